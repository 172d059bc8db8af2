// The chaos run's plan: load and faults derived from one seeded generator on a logical clock of
// ticks, never from wall-clock races. The same seed and scale give the same plan, byte for byte
// (its hash is printed), whatever the machine does while the plan is executed.
import { createHash } from 'node:crypto';
import { seededRandom } from '../../local/random.ts';
import type { Faults } from '../../local/simulators/faults.ts';
import type { Message, ShardCreateData, WorkspaceData } from '../../shared/contracts/messages.ts';

export const CHAOS_FUNCTIONS = ['shard-creation', 'workspace-lifecycle', 'converge-shard'] as const;

export interface ChaosShape {
  seed: number;
  /** Messages ~ scale x 100. */
  scale: number;
  shards: number;
  nodesPerShard: number;
  /** Logical ticks during which faults are injected; load is sent during the first 60 %. */
  faultTicks: number;
}

/** One message to send: a valid event (maybe again), or poison. */
export interface PlannedSend {
  queue: 'shard-creation' | 'workspace-lifecycle';
  body: string;
  kind: 'event' | 'duplicate' | 'poison';
}

export type FaultAction =
  | { kind: 'citrus'; faults: Faults; label: string }
  | { kind: 'node'; node: number; faults: Faults; label: string }
  | { kind: 'add-node'; shard: number }
  | { kind: 'remove-node'; node: number }
  | { kind: 'kill'; functionName: (typeof CHAOS_FUNCTIONS)[number]; afterMs: number }
  | { kind: 'dynamodb-throttling'; rate: number; seed: number };

export interface ChaosTick {
  tick: number;
  faults: FaultAction[];
  sends: PlannedSend[];
}

export interface ChaosPlan {
  shape: ChaosShape;
  locations: ShardCreateData[];
  /** Every workspace event the management server commits, in occurredAt order per workspace. */
  workspaceEvents: Message[];
  /** Events the management server committed but never sent (lost before reaching us). */
  unsent: Message[];
  ticks: ChaosTick[];
  /** sha256 of the plan: equal for equal seeds and scales. */
  hash: string;
}

const BASE_TIME = Date.parse('2026-01-01T00:00:00.000Z');

/** An envelope for poison: `type`, `version` and `data` as given, the rest well-formed. */
const poisonBody = (n: number, type: string, version: number, data: Record<string, string>) =>
  JSON.stringify({
    type,
    version,
    id: `poison-${n}`,
    occurredAt: new Date(BASE_TIME).toISOString(),
    data,
  });
const LOCATION = { businessId: 'b', locationId: 'l', businessType: 'retail' };
const WORKSPACE = { workspaceId: 'w', userId: 'u', businessId: 'b', locationId: 'l' };

/** Poison the management server might send: one field or the framing broken. */
const POISONS: Array<(n: number) => { queue: PlannedSend['queue']; body: string }> = [
  (n) => ({ queue: 'shard-creation', body: `{"type":"shard.create","id":"poison-${n}",` }),
  (n) => ({
    queue: 'workspace-lifecycle',
    body: poisonBody(n, 'workspace.renamed', 1, WORKSPACE),
  }),
  (n) => ({ queue: 'shard-creation', body: poisonBody(n, 'shard.create', 2, LOCATION) }),
  (n) => ({
    queue: 'workspace-lifecycle',
    body: poisonBody(n, 'workspace.created', 1, { ...WORKSPACE, workspaceId: 'wörkspace' }),
  }),
  // A key twice: JSON.parse would keep the second type and see a valid workspace.created.
  (n) => ({
    queue: 'workspace-lifecycle',
    body: poisonBody(n, 'workspace.created', 1, WORKSPACE).replace(
      '{"type":',
      '{"type":"workspace.deleted","type":',
    ),
  }),
  (n) => ({ queue: 'workspace-lifecycle', body: poisonBody(n, 'shard.create', 1, LOCATION) }),
];

export function planChaos(shape: ChaosShape): ChaosPlan {
  const random = seededRandom(shape.seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;
  const total = Math.max(20, Math.round(shape.scale * 100));

  // Load: locations, then workspace histories (created, then deleted for some).
  const locations: ShardCreateData[] = Array.from(
    { length: Math.max(3, Math.round(total / 12)) },
    (_, i) => ({ businessId: `biz-${i % 3}`, locationId: `loc-${i}`, businessType: 'retail' }),
  );
  const events: Message[] = locations.map((data, i) => ({
    type: 'shard.create',
    version: 1,
    id: `create-${data.locationId}`,
    occurredAt: new Date(BASE_TIME + i * 1000).toISOString(),
    data,
  }));
  const workspaceEvents: Message[] = [];
  const workspaces = Math.round((total * 0.8 - locations.length) / 1.35);
  for (let w = 0; w < workspaces; w++) {
    const location = pick(locations);
    const data: WorkspaceData = {
      workspaceId: `ws-${w}`,
      userId: `user-${w % 7}`,
      businessId: location.businessId,
      locationId: location.locationId,
    };
    const createdAt = BASE_TIME + int(0, 600) * 1000;
    workspaceEvents.push({
      type: 'workspace.created',
      version: 1,
      id: `ws-${w}-created`,
      occurredAt: new Date(createdAt).toISOString(),
      data,
    });
    if (chance(0.35)) {
      workspaceEvents.push({
        type: 'workspace.deleted',
        version: 1,
        id: `ws-${w}-deleted`,
        occurredAt: new Date(createdAt + int(1, 600) * 1000).toISOString(),
        data,
      });
    }
  }
  // 6 % of the workspace events are committed by the management server and never sent.
  const lost = new Set(
    shuffle(workspaceEvents, random).slice(0, Math.ceil(workspaceEvents.length * 0.06)),
  );
  const unsent = workspaceEvents.filter((e) => lost.has(e));
  const sent: Message[] = [...events, ...workspaceEvents.filter((e) => !lost.has(e))];

  // Reordering: everything is sent in a shuffled order (a delete before its create, a
  // workspace before its location), then duplicates and poison are mixed in.
  const sends: PlannedSend[] = shuffle(sent, random).map((m) => ({
    queue: m.type === 'shard.create' ? 'shard-creation' : 'workspace-lifecycle',
    body: JSON.stringify(m),
    kind: 'event',
  }));
  const duplicates = Math.ceil(sends.length * 0.12);
  for (let i = 0; i < duplicates; i++) {
    const original = sends[int(0, sends.length - 1)]!;
    sends.splice(int(0, sends.length), 0, { ...original, kind: 'duplicate' });
  }
  const poisons = Math.max(2, Math.ceil(total * 0.02));
  for (let n = 0; n < poisons; n++) {
    sends.splice(int(0, sends.length), 0, { ...POISONS[n % POISONS.length]!(n), kind: 'poison' });
  }

  // Faults on the logical clock: windows drawn inside [0, faultTicks).
  const F = shape.faultTicks;
  const at = new Map<number, FaultAction[]>();
  const add = (tick: number, action: FaultAction) =>
    at.set(tick, [...(at.get(tick) ?? []), action]);
  // Windows start once the load flows (a quarter in): earlier, cold sandboxes may see none.
  const window = (minLength: number, maxLength: number) => {
    const length = int(minLength, maxLength);
    const start = int(Math.floor(F / 4), Math.max(Math.floor(F / 4), F - length - 1));
    return [start, start + length] as const;
  };
  // Citrus: a sequence of disjoint phases, one of them a full outage.
  const phases: Array<[string, Faults]> = shuffle(
    [
      ['citrus 5xx', { errorRate: 0.3 + random() * 0.3 }],
      ['citrus 429', { rateLimitRate: 0.5, retryAfterSeconds: 1 }],
      ['citrus timeouts', { timeoutRate: 0.15 }],
      ['citrus outage', { errorRate: 1 }],
    ],
    random,
  );
  let t = int(0, 2);
  for (const [label, faults] of phases) {
    const length = int(Math.floor(F * 0.1), Math.floor(F * 0.2));
    if (t + length >= F) break;
    add(t, { kind: 'citrus', faults, label });
    add(t + length, { kind: 'citrus', faults: {}, label: 'citrus ok' });
    t += length + int(1, 3);
  }
  // Nodes: one flapping, one answering errors, one black-holed; distinct nodes.
  const nodeCount = shape.shards * shape.nodesPerShard;
  const chosen = shuffle(
    Array.from({ length: nodeCount }, (_, i) => i),
    random,
  );
  const [flapping, erroring, blackHoled, leaving] = chosen as [number, number, number, number];
  for (let tick = int(0, 3), down = true; tick < F - 1; tick += int(2, 5), down = !down) {
    add(tick, { kind: 'node', node: flapping, faults: down ? { down: true } : {}, label: 'flap' });
  }
  add(F - 1, { kind: 'node', node: flapping, faults: {}, label: 'flap' });
  const [errorFrom, errorTo] = window(Math.floor(F * 0.3), Math.floor(F * 0.6));
  add(errorFrom, { kind: 'node', node: erroring, faults: { errorRate: 0.5 }, label: 'errors' });
  add(errorTo, { kind: 'node', node: erroring, faults: {}, label: 'errors over' });
  const [holeFrom, holeTo] = window(Math.floor(F * 0.2), Math.floor(F * 0.4));
  add(holeFrom, {
    kind: 'node',
    node: blackHoled,
    faults: { timeoutRate: 1 },
    label: 'black hole',
  });
  add(holeTo, { kind: 'node', node: blackHoled, faults: {}, label: 'black hole over' });
  add(int(Math.floor(F * 0.2), Math.floor(F * 0.6)), {
    kind: 'add-node',
    shard: int(0, shape.shards - 1),
  });
  add(int(Math.floor(F * 0.2), Math.floor(F * 0.6)), { kind: 'remove-node', node: leaving });
  // Sandboxes killed mid-batch, early enough that their records' visibility lapses in the run.
  for (let k = 0; k < 3; k++) {
    add(int(0, Math.floor(F * 0.5)), {
      kind: 'kill',
      functionName: CHAOS_FUNCTIONS[k]!,
      afterMs: int(20, 400),
    });
  }
  const [throttleFrom, throttleTo] = window(Math.floor(F * 0.2), Math.floor(F * 0.4));
  add(throttleFrom, {
    kind: 'dynamodb-throttling',
    rate: 0.1 + random() * 0.2,
    seed: int(1, 2 ** 31),
  });
  add(throttleTo, { kind: 'dynamodb-throttling', rate: 0, seed: 1 });

  // Load goes out during the first 60 % of the fault window.
  const sendTicks = Math.max(1, Math.floor(F * 0.6));
  const perTick = Math.ceil(sends.length / sendTicks);
  const ticks: ChaosTick[] = Array.from({ length: F }, (_, tick) => ({
    tick,
    faults: at.get(tick) ?? [],
    sends: sends.slice(tick * perTick, (tick + 1) * perTick),
  }));
  const content = { shape, locations, workspaceEvents, unsent, ticks };
  const hash = createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 16);
  return { ...content, hash };
}

/** Fisher-Yates with the plan's generator (a copy; the input is left alone). */
function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** How many of the plan's sends are of each kind. */
export function planCounts(plan: ChaosPlan) {
  const sends = plan.ticks.flatMap((t) => t.sends);
  const count = (kind: PlannedSend['kind']) => sends.filter((s) => s.kind === kind).length;
  return {
    sent: sends.length,
    events: count('event'),
    duplicates: count('duplicate'),
    poison: count('poison'),
    unsent: plan.unsent.length,
    faults: plan.ticks.reduce((n, t) => n + t.faults.length, 0),
  };
}
