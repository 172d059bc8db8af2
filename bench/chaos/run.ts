// Executes a chaos plan on a local stack: sends the load and injects the faults tick by tick,
// stops the faults, measures how long the fleet takes to converge, checks every node, every
// DLQ and the duplicate work, then does what the runbook tells an operator after an outage.
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { replay } from '../../cli/shardctl/dlq.ts';
import { createTarget, type Target } from '../../cli/shardctl/target.ts';
import type { NodeAgentSimulator } from '../../local/simulators/node-agent.ts';
import { EPHEMERAL_PORTS, type LocalStack, startLocalStack } from '../../local/stack.ts';
import {
  MESSAGE_TYPES,
  type Message,
  parseMessage,
  QUEUE_OF_TYPE,
} from '../../shared/contracts/messages.ts';
import { dlqName, QUEUES } from '../../shared/contracts/names.ts';
import {
  checkState,
  type Expectation,
  expectationOf,
  nodeMutations,
  shardOfNode,
} from './check.ts';
import { type ChaosPlan, type FaultAction, planCounts } from './plan.ts';

export interface ChaosOptions {
  /** Wall time of one logical tick. */
  tickMs?: number;
  sweepIntervalSeconds?: number;
  retryBaseSeconds?: number;
  /** How long after the faults the fleet may take to converge before the run gives up. */
  convergeTimeoutMs?: number;
  logFile?: string;
  log?: (line: string) => void;
}

export interface ChaosResult {
  seed: number;
  scale: number;
  planHash: string;
  load: ReturnType<typeof planCounts>;
  figures: {
    lost: number;
    unexpected: number;
    poisonNotInDlq: number;
    poisonWithoutReason: number;
    validInDlq: number;
    /** Everything in the DLQs: poison parked twice (a redelivered batch) counts twice. */
    dlqLetters: number;
    maxCitrusRegistrationsPerLocation: number;
    locationsRegisteredMoreThanTwice: number;
    nodeMutations: ReturnType<typeof nodeMutations>;
    convergedSeconds: number | null;
    sweepIntervalSeconds: number;
    /** The longest a record on the retry ladder waits between receives (30 x base). */
    ladderStepSeconds: number;
    convergedWithin3Sweeps: boolean;
    killedInvocations: number;
    dynamoDbThrottled: number;
  };
  /** Events the management server never sent: only source reconciliation can repair them. */
  notRepairableWithoutSourceSync: { events: number; missing: number; unexpected: number };
  drill: {
    peeked: number;
    dryRunMovedNothing: boolean;
    replayChangedNothing: boolean;
    repairedDeadLetters: number;
    repaired: boolean;
  };
  examples: string[];
  timings: { faultSeconds: number; totalSeconds: number };
  failures: string[];
  pass: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`chaos: timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** When the management server committed the locations: before any event of the plan. */
const BASE_COMMIT = '2025-12-31T00:00:00.000Z';

export async function runChaos(plan: ChaosPlan, options: ChaosOptions = {}): Promise<ChaosResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const tickMs = options.tickMs ?? 500;
  const sweep = options.sweepIntervalSeconds ?? 2;
  const retryBase = options.retryBaseSeconds ?? 1;
  const { shards, nodesPerShard } = plan.shape;
  const stack = await startLocalStack({
    ports: EPHEMERAL_PORTS,
    log: 'quiet',
    ...(options.logFile ? { logFile: options.logFile } : {}),
    reconcileIntervalSeconds: sweep,
    fleet: { shards, nodesPerShard },
    functionEnv: { RETRY_BASE_SECONDS: String(retryBase) },
    env: { ...process.env, ORPHAN_GRACE_SECONDS: '3' },
    // Records of a killed invocation come back within the run, not after 6 function timeouts.
    visibilityTimeoutSeconds: 10,
    // No throttling yet: the plan sets it while the stack runs.
    dynamoDbThrottling: { rate: 0, seed: plan.shape.seed },
    // Events never sent are repaired from the management server's listing, once a sweep.
    sourceSyncIntervalSeconds: sweep,
  });
  try {
    return await execute(stack, plan, { ...options, tickMs, sweep, retryBase, log, started });
  } finally {
    await stack.stop();
  }
}

async function execute(
  stack: LocalStack,
  plan: ChaosPlan,
  o: ChaosOptions & {
    tickMs: number;
    sweep: number;
    retryBase: number;
    log: (line: string) => void;
    started: number;
  },
): Promise<ChaosResult> {
  const fleet = stack.fleet!;
  // The management server commits before it sends (and some of what it commits is never sent):
  // with source reconciliation on, its listing is the truth the stack must reach.
  const source = stack.managementServer;
  if (source) {
    for (const l of plan.locations) source.recordLocation({ ...l, updatedAt: BASE_COMMIT });
    for (const e of plan.workspaceEvents) {
      if (e.type !== 'workspace.created' && e.type !== 'workspace.deleted') continue;
      const status = e.type === 'workspace.deleted' ? 'deleted' : 'active';
      const known = source.workspaces().find((w) => w.workspaceId === e.data.workspaceId);
      if (
        !known ||
        known.updatedAt < e.occurredAt ||
        (known.updatedAt === e.occurredAt && status === 'deleted')
      )
        source.recordWorkspace({ ...e.data, status, updatedAt: e.occurredAt });
    }
  }
  const initial = [...fleet.nodes];
  const removed = new Set<string>();
  const live = () => fleet.nodes.filter((n) => !removed.has(n.nodeId));
  const apply = async (f: FaultAction) => {
    switch (f.kind) {
      case 'citrus':
        return fleet.citrus.setFaults(f.faults);
      case 'node':
        return initial[f.node]!.setFaults(f.faults);
      case 'add-node':
        await fleet.addNode(`shard-${String(f.shard + 1).padStart(3, '0')}`);
        return;
      case 'remove-node': {
        const node = initial[f.node]!;
        removed.add(node.nodeId);
        return fleet.citrus.removeNode(shardOfNode(node), node.nodeId);
      }
      case 'kill':
        return stack.killNextInvocation(f.functionName, f.afterMs);
      case 'dynamodb-throttling':
        o.log(
          `${((Date.now() - faultsStart) / 1000).toFixed(1)} s: DynamoDB throttling ${f.rate.toFixed(2)} (${stack.dynamoDbThrottledCalls()} calls throttled so far)`,
        );
        return stack.setDynamoDbThrottling(f.rate > 0 ? { rate: f.rate, seed: f.seed } : undefined);
    }
  };

  // The logical clock: a tick starts tickMs after the previous one started, or when that one
  // ends if it ran longer; a slow tick delays the rest instead of squeezing the next windows.
  const faultsStart = Date.now();
  o.log(`stack up after ${((faultsStart - o.started) / 1000).toFixed(1)} s`);
  let next = faultsStart;
  for (const tick of plan.ticks) {
    await sleep(next - Date.now());
    next = Date.now() + o.tickMs;
    for (const f of tick.faults) await apply(f);
    await Promise.all(tick.sends.map((s) => stack.sendRaw(s.queue, s.body)));
  }
  await sleep(next - Date.now());
  fleet.citrus.setFaults({});
  for (const n of fleet.nodes) n.setFaults({});
  stack.setDynamoDbThrottling(undefined);
  const faultsEnd = Date.now();
  o.log(`faults over after ${((faultsEnd - faultsStart) / 1000).toFixed(1)} s; converging`);

  const sentEvents = plan.ticks
    .flatMap((t) => t.sends)
    .filter((s) => s.kind === 'event')
    .map((s) => JSON.parse(s.body) as Message);
  const truth = expectationOf(plan.locations, [...plan.workspaceEvents]);
  // Without source reconciliation, only what was sent can be expected.
  const expected = source ? truth : expectationOf(plan.locations, sentEvents);
  let reported = Date.now();
  const converged = async (want: Expectation) => {
    const c = await checkState(stack, live(), want);
    if (Date.now() - reported > 5000) {
      reported = Date.now();
      o.log(
        `${((reported - faultsEnd) / 1000).toFixed(0)} s: lost ${c.lost}, unexpected ${c.unexpected}: ${c.examples.slice(0, 3).join(', ')}`,
      );
    }
    return c.lost === 0 && c.unexpected === 0 ? c : undefined;
  };
  let convergedSeconds: number | null = null;
  try {
    await until('convergence', () => converged(expected), o.convergeTimeoutMs ?? 180_000);
    convergedSeconds = (Date.now() - faultsEnd) / 1000;
  } catch (error) {
    o.log(String(error));
  }
  await stack.waitForIdle(120_000).catch((e: Error) => o.log(e.message));
  const state = await checkState(stack, live(), expected);
  const versusTruth = await checkState(stack, live(), truth);

  // DLQs, read as the operator would (dry run = peek).
  const target = localTarget(stack);
  const dlqs = QUEUES.map(dlqName);
  // The DLQs are scanned side by side: each scan ends on an empty long poll (1 s).
  const peekAll = async () => {
    const scans = await Promise.all(
      dlqs.map(async (dlq) => {
        const out = await replay(target, dlq, { dryRun: true, holdSeconds: 10 });
        // Poison the loop guard holds is listed apart; it is still in the DLQ.
        return [...out.letters, ...out.looping].map((l) => ({ ...l, dlq }));
      }),
    );
    return scans.flat();
  };
  o.log(`idle ${((Date.now() - faultsEnd) / 1000).toFixed(1)} s after the faults`);
  const letters = await peekAll();
  o.log(`peeked ${((Date.now() - faultsEnd) / 1000).toFixed(1)} s after the faults`);
  const poisons = plan.ticks
    .flatMap((t) => t.sends)
    .filter((s) => s.kind === 'poison')
    .map((s) => ({ ...s, dlq: dlqName(s.queue) }));
  const parked = (p: Parked) => parkedIn(letters, p);
  const poisonNotInDlq = poisons.filter((p) => parked(p).length === 0).length;
  const poisonWithoutReason = poisons.filter((p) => parked(p).some((l) => !l.failureReason)).length;
  // Valid for the queue the DLQ belongs to: a shard.create sent to the workspace queue is poison.
  const valid = letters.filter((l) => parseMessage(l.body, typesOf(l.dlq)).ok);
  const validInDlq = valid.length;
  for (const l of valid) {
    o.log(
      `valid in ${l.dlq}: ${l.type} ${l.body.slice(0, 160)} (receives ${l.receiveCount}, reason ${l.failureReason ?? 'none'})`,
    );
  }
  o.log(
    `converged after ${convergedSeconds ?? 'never'} s; lost ${state.lost}, unexpected ${state.unexpected}; DLQs hold ${letters.length} (${poisons.length} poison sent, ${poisonNotInDlq} of them missing, ${validInDlq} valid)`,
  );
  for (const e of state.examples) o.log(`  ${e}`);
  const registrations = [...fleet.citrus.registrationsByLocation.values()];
  const mutations = nodeMutations(live());

  const drill = await runbookDrill(stack, target, expected, live, peekAll, poisons);
  o.log(`drill done ${((Date.now() - faultsEnd) / 1000).toFixed(1)} s after the faults`);

  const figures: ChaosResult['figures'] = {
    lost: state.lost,
    unexpected: state.unexpected,
    poisonNotInDlq,
    poisonWithoutReason,
    validInDlq,
    dlqLetters: letters.length,
    maxCitrusRegistrationsPerLocation: Math.max(0, ...registrations),
    locationsRegisteredMoreThanTwice: registrations.filter((n) => n > 2).length,
    nodeMutations: mutations,
    convergedSeconds,
    sweepIntervalSeconds: o.sweep,
    ladderStepSeconds: 30 * o.retryBase,
    convergedWithin3Sweeps: convergedSeconds !== null && convergedSeconds <= 3 * o.sweep,
    killedInvocations: [...stack.pools.values()].reduce((n, p) => n + p.stats.kills, 0),
    dynamoDbThrottled: stack.dynamoDbThrottledCalls(),
  };
  const failures: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
  };
  expect(figures.lost === 0, `lost ${figures.lost}`);
  expect(figures.unexpected === 0, `unexpected ${figures.unexpected}`);
  expect(validInDlq === 0, `valid messages in a DLQ: ${validInDlq}`);
  expect(poisonNotInDlq === 0, `poison not in a DLQ: ${poisonNotInDlq}`);
  expect(poisonWithoutReason === 0, `poison without failureReason: ${poisonWithoutReason}`);
  expect(
    figures.maxCitrusRegistrationsPerLocation <= 2,
    `Citrus registrations per location up to ${figures.maxCitrusRegistrationsPerLocation}`,
  );
  // Nodes are the sweep's business (3 sweeps); intent waiting on the retry ladder comes back
  // within one ladder step of the dependency's return: both bound the convergence.
  const bound = 3 * o.sweep + figures.ladderStepSeconds;
  expect(
    convergedSeconds !== null && convergedSeconds <= bound,
    `converged in ${convergedSeconds ?? 'never'} s (bound ${bound} s)`,
  );
  expect(drill.dryRunMovedNothing, 'dry-run replay moved messages');
  expect(drill.replayChangedNothing, 'replaying the DLQs changed node state');
  expect(drill.repaired, 'replaying dead-lettered valid messages did not repair');
  return {
    seed: plan.shape.seed,
    scale: plan.shape.scale,
    planHash: plan.hash,
    load: planCounts(plan),
    figures,
    notRepairableWithoutSourceSync: {
      events: plan.unsent.length,
      missing: versusTruth.lost,
      unexpected: versusTruth.unexpected,
    },
    drill,
    examples: state.examples,
    timings: {
      faultSeconds: (faultsEnd - faultsStart) / 1000,
      totalSeconds: (Date.now() - o.started) / 1000,
    },
    failures,
    pass: failures.length === 0,
  };
}

/** shardctl's view of the local stack: what `--local` with the stack's ports gives. */
function localTarget(stack: LocalStack): Target {
  const port = (url: string) => new URL(url).port;
  Object.assign(process.env, {
    SQS_PORT: port(stack.endpoints.sqs),
    DYNAMODB_PORT: port(stack.endpoints.dynamodb),
    SSM_PORT: port(stack.endpoints.ssm),
    SCHEDULER_PORT: port(stack.endpoints.scheduler),
    LAMBDA_PORT: port(stack.endpoints.lambda),
  });
  return createTarget({ local: true });
}

/** The message types the source queue of a DLQ carries. */
const typesOf = (dlq: string) => MESSAGE_TYPES.filter((t) => dlqName(QUEUE_OF_TYPE[t]) === dlq);

type Parked = { dlq: string; body: string };
const parkedIn = <L extends Parked>(letters: L[], p: Parked) =>
  letters.filter((l) => l.dlq === p.dlq && l.body === p.body);

const snapshot = (nodes: NodeAgentSimulator[]) =>
  JSON.stringify(
    nodes.map((n) => [n.nodeId, [...n.state.schemas.keys()].sort(), [...n.state.stores].sort()]),
  );

/**
 * The runbook after an outage: peek each DLQ, replay with --dry-run, then replay. First with
 * only poison in the DLQs (nothing needs replaying: poison comes back, nodes are unchanged),
 * then with valid messages parked as SQS parks them after an outage longer than the ladder
 * (replaying them repairs what they describe).
 */
async function runbookDrill(
  stack: LocalStack,
  target: Target,
  expected: Expectation,
  live: () => NodeAgentSimulator[],
  peekAll: () => Promise<Parked[]>,
  poisons: Parked[],
): Promise<ChaosResult['drill']> {
  const dlqs = QUEUES.map(dlqName);
  const replayAll = async (dryRun: boolean) => {
    const replays = await Promise.all(
      dlqs.map((dlq) => replay(target, dlq, { dryRun, holdSeconds: 10 })),
    );
    return replays.reduce((n, r) => n + r.matched, 0);
  };
  const poisonBack = async () => {
    const letters = await peekAll();
    return poisons.every((p) => parkedIn(letters, p).length > 0) ? letters : undefined;
  };

  const before = snapshot(live());
  const peeked = (await peekAll()).length;
  const dryMatched = await replayAll(true);
  const afterDry = await peekAll();
  const dryRunMovedNothing = dryMatched === peeked && afterDry.length === peeked;
  await replayAll(false);
  await stack.waitForIdle(120_000);
  const back = await until('the poison back in its DLQs', poisonBack, 60_000).catch(
    () => undefined,
  );
  const replayChangedNothing = back !== undefined && snapshot(live()) === before;

  // Valid messages SQS moved to the DLQs after their retries (no failureReason), for a
  // location and a workspace the fleet has never seen.
  const location = { businessId: 'biz-drill', locationId: 'loc-drill', businessType: 'retail' };
  const { businessId, locationId } = location;
  const dead: Message[] = [
    {
      type: 'shard.create',
      version: 1,
      id: 'drill-location',
      occurredAt: '2026-01-02T00:00:00.000Z',
      data: location,
    },
    {
      type: 'workspace.created',
      version: 1,
      id: 'drill-workspace',
      occurredAt: '2026-01-02T00:00:01.000Z',
      data: { workspaceId: 'ws-drill', userId: 'user-drill', businessId, locationId },
    },
  ];
  for (const m of dead) {
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queues[dlqName(QUEUE_OF_TYPE[m.type])],
        MessageBody: JSON.stringify(m),
      }),
    );
  }
  await peekAll();
  await replayAll(true);
  await replayAll(false);
  const withDrill: Expectation = {
    locations: [...expected.locations, location],
    workspaces: new Map([...expected.workspaces, ['ws-drill', 'biz-drill#loc-drill']]),
  };
  let repaired = true;
  try {
    await until(
      'the replayed dead letters applied',
      async () => {
        const c = await checkState(stack, live(), withDrill);
        return c.lost === 0 && c.unexpected === 0 ? c : undefined;
      },
      120_000,
    );
  } catch {
    repaired = false;
  }
  return {
    peeked,
    dryRunMovedNothing,
    replayChangedNothing,
    repairedDeadLetters: dead.length,
    repaired,
  };
}
