// EventBridge Scheduler's GetSchedule and UpdateSchedule (REST-JSON: GET and PUT
// /schedules/{Name}), so that pausing and resuming a schedule works against the local stack as
// it does in AWS. The local runtime's timer obeys the state set here.
import { LOCAL } from '../defaults.ts';
import { parseBody, type RestEndpoint, RestError, startRestEndpoint } from './rest.ts';

export type ScheduleState = 'ENABLED' | 'DISABLED';

export interface EmulatedSchedule {
  /** The name in AWS (`shard-control-local-...`); `aliases` are accepted too. */
  name: string;
  aliases?: string[];
  expression: string;
  targetArn: string;
  input?: string;
  state: ScheduleState;
}

export interface SchedulerEmulatorOptions {
  port?: number;
  schedules: EmulatedSchedule[];
  /** Called after a schedule's state changed, with the schedule's `name`. */
  onStateChange?: (name: string, state: ScheduleState) => void;
}

type Definition = Record<string, unknown> & { Name: string; State: ScheduleState };

export async function startSchedulerEmulator(
  opts: SchedulerEmulatorOptions,
): Promise<RestEndpoint> {
  const definitions = new Map<string, Definition>();
  const byAlias = new Map<string, string>();
  const created = Date.now() / 1000;
  for (const s of opts.schedules) {
    definitions.set(s.name, {
      Arn: `arn:aws:scheduler:${LOCAL.region}:${LOCAL.accountId}:schedule/default/${s.name}`,
      GroupName: 'default',
      Name: s.name,
      ScheduleExpression: s.expression,
      State: s.state,
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: s.targetArn,
        RoleArn: `arn:aws:iam::${LOCAL.accountId}:role/local-scheduler`,
        ...(s.input !== undefined ? { Input: s.input } : {}),
      },
      CreationDate: created,
      LastModificationDate: created,
    });
    for (const alias of [s.name, ...(s.aliases ?? [])]) byAlias.set(alias, s.name);
  }
  const find = (raw: string) => {
    const name = byAlias.get(decodeURIComponent(raw));
    const definition = name && definitions.get(name);
    if (!definition)
      throw new RestError(404, 'ResourceNotFoundException', `Schedule ${raw} does not exist.`);
    return definition;
  };

  return startRestEndpoint(opts.port ?? 0, async (req, body) => {
    const path = /^\/schedules\/([^/?]+)/.exec(req.url ?? '')?.[1];
    if (!path) throw new RestError(404, 'UnknownOperationException', `no operation at ${req.url}`);
    const current = find(path);
    if (req.method === 'GET') return { status: 200, body: current };
    if (req.method !== 'PUT') {
      throw new RestError(405, 'UnknownOperationException', `${req.method} is not supported here`);
    }
    const update = parseBody(body) as Record<string, unknown>;
    // UpdateSchedule replaces the definition: the required fields must come with it.
    for (const field of ['ScheduleExpression', 'FlexibleTimeWindow', 'Target']) {
      if (update[field] === undefined)
        throw new RestError(400, 'ValidationException', `${field} is required`);
    }
    const state = update.State ?? 'ENABLED';
    if (state !== 'ENABLED' && state !== 'DISABLED')
      throw new RestError(400, 'ValidationException', `State must be ENABLED or DISABLED`);
    const { ClientToken: _token, ...rest } = update;
    const next: Definition = {
      ...rest,
      Arn: current.Arn,
      GroupName: current.GroupName,
      Name: current.Name,
      State: state,
      CreationDate: current.CreationDate,
      LastModificationDate: Date.now() / 1000,
    };
    definitions.set(current.Name, next);
    if (state !== current.State) opts.onStateChange?.(current.Name, state);
    return { status: 200, body: { ScheduleArn: current.Arn } };
  });
}
