// The command groups, in help order. A new group is one module exporting a CommandGroup,
// added here.
import type { CommandGroup } from '../command.ts';
import { dlqCommands } from './dlq.ts';
import { reconcileCommands } from './reconcile.ts';
import { shardCommands } from './shards.ts';
import { sourceCommands } from './source.ts';
import { statusCommand } from './status.ts';

export const COMMAND_GROUPS: readonly CommandGroup[] = [
  statusCommand,
  dlqCommands,
  reconcileCommands,
  sourceCommands,
  shardCommands,
];
