// `shardctl converge | shard | lease clear | keys rotate`: shards, their leases, node keys.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { type CommandGroup, EXIT, Outcome, positiveInt } from '../command.ts';

export const shardCommands: CommandGroup = (program, cli) => {
  cli.action(
    program
      .command('converge')
      .description('request a convergence of each shard (reason manual)')
      .argument('<shardId...>', 'one or more shard ids'),
    async ({ target, args }) => {
      const t = await target();
      const { requestConvergence } = await import('../operations.ts');
      const { sent, failed } = await requestConvergence(
        t,
        args[0] as string[],
        `shardctl:${userInfo().username}`,
      );
      return new Outcome({ sent: sent.length, failed }, failed.length ? EXIT.failure : EXIT.ok);
    },
  );

  cli.action(
    program.command('shard').description('a shard and its nodes').argument('<shardId>'),
    async ({ target, args }) => {
      const t = await target();
      const { shardStatus } = await import('../operations.ts');
      return shardStatus(t, args[0] as string);
    },
  );

  const lease = program.command('lease').description('convergence leases');
  cli.action(
    lease
      .command('clear')
      .description('drop a convergence lease (a stale one also expires by itself)')
      .argument('<shardId>'),
    async ({ target, args, notice }) => {
      const t = await target();
      const { clearLease } = await import('../operations.ts');
      const cleared = await clearLease(t, args[0] as string);
      if (!cleared) notice(`no such shard: ${args[0]}`);
      return { shardId: args[0], cleared };
    },
  );

  const keys = program.command('keys').description('node agent signing keys');
  cli.action(
    keys
      .command('rotate')
      .description(
        'new node signing key; the old one stays valid for the grace period; no secret is printed',
      )
      .requiredOption('--key-id <id>', 'id of the new key')
      .option('--secret-file <file>', 'read the new secret from this file (default: generated)')
      .option('--grace-hours <n>', 'how long the old key stays valid', positiveInt, 24),
    async ({ target, options }) => {
      const secretFile = options.secretFile as string | undefined;
      const t = await target();
      const { rotateSigningKeys } = await import('../operations.ts');
      return rotateSigningKeys(t, {
        newKeyId: options.keyId as string,
        secret: secretFile ? readFileSync(secretFile, 'utf8').trim() : undefined,
        graceHours: options.graceHours as number,
      });
    },
  );
};
