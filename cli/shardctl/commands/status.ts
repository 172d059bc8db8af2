// `shardctl status`: the fleet at a glance.
import type { CommandGroup } from '../command.ts';
import { positiveInt } from '../command.ts';

export const statusCommand: CommandGroup = (program, cli) => {
  cli.action(
    program
      .command('status')
      .description(
        'shards, nodes and workspaces that need attention, queues and DLQs, the last sweep, schedule and kill switch',
      )
      .option(
        '--limit <n>',
        'list at most this many items of each kind (all are counted)',
        positiveInt,
        100,
      ),
    async ({ target, options, notice }) => {
      const limit = options.limit as number;
      const t = await target();
      const { fleetStatus } = await import('../status.ts');
      const status = await fleetStatus(t, { limit });
      const lists = [
        status.shards.failed,
        status.nodes.joining,
        status.nodes.pending_sync,
        status.nodes.error,
        status.workspaces.pending_placement,
      ];
      const cut = lists.some((list) => list.count > list.items.length);
      if (cut) notice(`lists are cut at ${limit} items; counts are complete (--limit to see more)`);
      return status;
    },
  );
};
