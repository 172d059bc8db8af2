// `shardctl source ...`: source reconciliation's last run, a run now, its schedule, and the
// deletions its safety cap held back.
import { userInfo } from 'node:os';
import type { CommandGroup } from '../command.ts';

export const sourceCommands: CommandGroup = (program, cli) => {
  const source = program
    .command('source')
    .description('source reconciliation: last, sync-now, pause, resume, held, release-held');
  const sub = (name: string, description: string) => source.command(name).description(description);

  cli.action(
    sub('last', "the last source sync's summary (drift by kind, held, asOf, errors)"),
    async ({ target }) => {
      const t = await target();
      const { sourceLast } = await import('../source.ts');
      return (await sourceLast(t)) ?? null;
    },
  );
  cli.action(
    sub('sync-now', 'run one source sync now and wait for it'),
    async ({ target, notice }) => {
      const t = await target();
      const { syncNow } = await import('../source.ts');
      notice('running source-sync ...');
      return syncNow(t, `shardctl:${userInfo().username}`);
    },
  );
  for (const action of ['pause', 'resume'] as const) {
    cli.action(sub(action, `${action} the source-sync schedule`), async ({ target }) => {
      const t = await target();
      const { setSourceSchedule } = await import('../source.ts');
      return {
        schedule: await setSourceSchedule(t, action),
        state: action === 'pause' ? 'DISABLED' : 'ENABLED',
      };
    });
  }
  cli.action(sub('held', 'deletions the safety cap held back'), async ({ target }) => {
    const t = await target();
    const { listHeld } = await import('../source.ts');
    return listHeld(t);
  });
  cli.action(
    sub('release-held', 'send the held deletions, then forget them').option(
      '--dry-run',
      'show what would be sent; send nothing',
    ),
    async ({ target, options }) => {
      const t = await target();
      const { releaseHeld } = await import('../source.ts');
      return releaseHeld(t, { dryRun: options.dryRun === true });
    },
  );
};
