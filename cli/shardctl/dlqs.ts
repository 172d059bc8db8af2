// What the command definitions need about DLQs when they register (argument choices, option
// defaults), without the AWS SDK: `--help` and usage errors load only this side of the CLI.
import { dlqName, QUEUES, SCHEDULE_DLQ } from '../../shared/contracts/names.ts';

export const DLQS = [...QUEUES.map(dlqName), SCHEDULE_DLQ] as const;

/** Replay's loop guard: a message already replayed this often stays in the DLQ. */
export const DEFAULT_MAX_REPLAYS = 3;
