// `shardctl source ...`: source reconciliation's last run, a run now, its schedule, and the
// deletions its safety cap held back.
import { userInfo } from 'node:os';
import type { CommandGroup } from '../command.ts';
import { listHeld, releaseHeld, setSourceSchedule, sourceLast, syncNow } from '../source.ts';

export const sourceCommands: CommandGroup = (program, cli) => {
  const source = program
    .command('source')
    .description('source reconciliation: last, sync-now, pause, resume, held, release-held');
  const sub = (name: string, description: string) => source.command(name).description(description);

  cli.action(
    sub('last', "the last source sync's summary (drift by kind, held, asOf, errors)"),
    async ({ target }) => (await sourceLast(target())) ?? null,
  );
  cli.action(
    sub('sync-now', 'run one source sync now and wait for it'),
    async ({ target, notice }) => {
      notice('running source-sync ...');
      return syncNow(target(), `shardctl:${userInfo().username}`);
    },
  );
  for (const action of ['pause', 'resume'] as const) {
    cli.action(sub(action, `${action} the source-sync schedule`), async ({ target }) => ({
      schedule: await setSourceSchedule(target(), action),
      state: action === 'pause' ? 'DISABLED' : 'ENABLED',
    }));
  }
  cli.action(sub('held', 'deletions the safety cap held back'), async ({ target }) =>
    listHeld(target()),
  );
  cli.action(
    sub('release-held', 'send the held deletions, then forget them').option(
      '--dry-run',
      'show what would be sent; send nothing',
    ),
    async ({ target, options }) => releaseHeld(target(), { dryRun: options.dryRun === true }),
  );
};
