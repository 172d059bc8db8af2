// `shardctl reconcile ...`: the sweep's schedule, its kill switch, its last run, one run now.
import { userInfo } from 'node:os';
import type { CommandGroup } from '../command.ts';
import {
  lastSweep,
  reconcileEnabled,
  setReconcileEnabled,
  setScheduleState,
  sweepNow,
} from '../operations.ts';

export const reconcileCommands: CommandGroup = (program, cli) => {
  const reconcile = program
    .command('reconcile')
    .description('reconciliation sweeps: pause, resume, disable, enable, last, now');
  const sub = (name: string, description: string) =>
    reconcile.command(name).description(description);

  for (const [name, state] of [
    ['pause', 'DISABLED'],
    ['resume', 'ENABLED'],
  ] as const) {
    cli.action(
      sub(
        name,
        `${name} the sweep's schedule (EventBridge Scheduler; the local stack has one too)`,
      ),
      async ({ target }) => {
        await setScheduleState(target(), state);
        return { schedule: target().scheduleName, state };
      },
    );
  }
  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    cli.action(
      sub(name, `the kill switch reconcile/enabled: a sweep that reads false exits at once`),
      async ({ target }) => {
        await setReconcileEnabled(target(), enabled);
        return { 'reconcile/enabled': await reconcileEnabled(target()) };
      },
    );
  }
  cli.action(sub('last', "the last sweep's summary"), async ({ target }) =>
    lastSweep(target()).then((summary) => summary ?? null),
  );
  cli.action(
    sub('now', 'run one sweep now and wait for it (Lambda Invoke of the sweep function)'),
    async ({ target, notice }) => {
      notice(`running ${target().sweepFunctionName} ...`);
      return sweepNow(target(), `shardctl:${userInfo().username}`);
    },
  );
};
