// `shardctl reconcile ...`: the sweep's schedule, its kill switch, its last run, one run now.
import { userInfo } from 'node:os';
import type { CommandGroup } from '../command.ts';

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
        const t = await target();
        const { setScheduleState } = await import('../operations.ts');
        await setScheduleState(t, state);
        return { schedule: t.scheduleName, state };
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
        const t = await target();
        const { reconcileEnabled, setReconcileEnabled } = await import('../operations.ts');
        await setReconcileEnabled(t, enabled);
        return { 'reconcile/enabled': await reconcileEnabled(t) };
      },
    );
  }
  cli.action(sub('last', "the last sweep's summary"), async ({ target }) => {
    const t = await target();
    const { lastSweep } = await import('../operations.ts');
    return (await lastSweep(t)) ?? null;
  });
  cli.action(
    sub('now', 'run one sweep now and wait for it (Lambda Invoke of the sweep function)'),
    async ({ target, notice }) => {
      const t = await target();
      const { sweepNow } = await import('../operations.ts');
      notice(`running ${t.sweepFunctionName} ...`);
      return sweepNow(t, `shardctl:${userInfo().username}`);
    },
  );
};
