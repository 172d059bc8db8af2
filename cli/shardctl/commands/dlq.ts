// `shardctl dlq ...`: look into dead-letter queues, send their messages back, or purge them.
import { Argument, type Command } from 'commander';
import { type CommandGroup, isoTime, positiveInt } from '../command.ts';
import { DEFAULT_MAX_REPLAYS, DLQS } from '../dlqs.ts';

const dlqArgument = () => new Argument('<dlq>', 'the DLQ').choices(DLQS);

export const dlqCommands: CommandGroup = (program, cli) => {
  const dlq = program
    .command('dlq')
    .description('dead-letter queues: list, peek, redrive, replay, purge');
  const sub = (name: string, description: string): Command =>
    dlq.command(name).description(description);

  cli.action(sub('list', 'depth of every DLQ'), async ({ target }) => {
    const t = await target();
    const { listDlqs } = await import('../dlq.ts');
    return listDlqs(t);
  });

  cli.action(
    sub('peek', 'show messages and their failureReason (nothing moves)')
      .addArgument(dlqArgument())
      .option('--limit <n>', 'at most this many messages', positiveInt, 10),
    async ({ target, args, options }) => {
      const t = await target();
      const { replay } = await import('../dlq.ts');
      const { letters } = await replay(t, args[0] as string, {
        dryRun: true,
        limit: options.limit as number,
      });
      return letters;
    },
  );

  cli.action(
    sub('redrive', 'move the whole DLQ back to its queue (SQS StartMessageMoveTask)')
      .addArgument(dlqArgument())
      .option('--rate <n>', 'messages per second', positiveInt),
    async ({ target, args, options }) => {
      const t = await target();
      const { startRedrive } = await import('../dlq.ts');
      return { taskHandle: await startRedrive(t, args[0] as string, options.rate as number) };
    },
  );

  cli.action(
    sub('redrive-status', 'recent redrive tasks and their progress').addArgument(dlqArgument()),
    async ({ target, args }) => {
      const t = await target();
      const { redriveTasks } = await import('../dlq.ts');
      return redriveTasks(t, args[0] as string);
    },
  );

  cli.action(
    sub('redrive-cancel', 'cancel the running redrive task').addArgument(dlqArgument()),
    async ({ target, args }) => {
      const t = await target();
      const { cancelRedrive } = await import('../dlq.ts');
      return { cancelled: await cancelRedrive(t, args[0] as string) };
    },
  );

  cli.action(
    sub('replay', 'send matching messages back to their queue, then delete them from the DLQ')
      .addArgument(dlqArgument())
      .option('--type <type>', 'message type, e.g. shard.create')
      .option('--business <id>', 'data.businessId')
      .option('--workspace <id>', 'data.workspaceId')
      .option('--shard <id>', 'data.shardId')
      .option('--since <time>', 'failed at or after (failedAt; else when first sent)', isoTime)
      .option('--until <time>', 'failed before', isoTime)
      .option('--reason <text>', 'failureReason contains this (any case)')
      .option(
        '--max-replays <n>',
        'loop guard: leave a message already replayed this often in the DLQ',
        positiveInt,
        DEFAULT_MAX_REPLAYS,
      )
      .option('--limit <n>', 'replay at most this many', positiveInt)
      .option('--dry-run', 'list what would be replayed; nothing moves'),
    async ({ target, args, options, progress, notice }) => {
      const dryRun = options.dryRun === true;
      const t = await target();
      const { replay } = await import('../dlq.ts');
      const result = await replay(t, args[0] as string, {
        dryRun,
        limit: options.limit as number | undefined,
        maxReplays: options.maxReplays as number,
        filter: {
          type: options.type as string | undefined,
          businessId: options.business as string | undefined,
          workspaceId: options.workspace as string | undefined,
          shardId: options.shard as string | undefined,
          since: options.since as Date | undefined,
          until: options.until as Date | undefined,
          reason: options.reason as string | undefined,
        },
        onProgress: (p) =>
          progress(`scanned ${p.scanned}  matched ${p.matched}  replayed ${p.replayed}`),
      });
      const brief = ({ body: _body, ...letter }: (typeof result.letters)[number]) => letter;
      if (result.looping.length)
        notice(
          `${result.looping.length} matching message(s) were already replayed ${options.maxReplays} times and stay in the DLQ: fix their cause, then purge or raise --max-replays`,
        );
      return {
        dryRun,
        scanned: result.scanned,
        matched: result.matched,
        replayed: result.replayed,
        ...(dryRun ? { wouldReplay: result.letters.map(brief) } : {}),
        looping: result.looping.map(brief),
      };
    },
  );

  cli.action(
    sub('purge', 'delete every message of the DLQ (asks for --confirm)')
      .addArgument(dlqArgument())
      .option('--confirm', 'yes, delete them all'),
    async ({ target, args, options, usageError }) => {
      const name = args[0] as string;
      if (options.confirm !== true)
        usageError(`purge deletes every message of ${name} for good: add --confirm`);
      const t = await target();
      const { purgeDlq } = await import('../dlq.ts');
      return purgeDlq(t, name);
    },
  );
};
