// `npm start`: the local stack in the foreground plus the sample scenario (README "Local stack").
//   --no-demo   stack only (for other tools to drive it)
//   --once      scenario, wait for drained queues + converged nodes, print a summary, exit
//   --watch     run handler sources (functions/<name>/handler.ts via tsx), not the CDK bundles
//   --quiet     function logs to .local/logs/local-stack.log instead of the terminal
//   --timeout=<seconds>  for --once (default 120)
// Every sample event is first recorded at the management server (simulator), as a real one
// commits before it sends; SOURCE_DROP_RATE (0..1; default 0.2 with --once, else 0) skips
// sending that share of them, and source reconciliation repairs what was never sent.
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { ShardCreateMessage, WorkspaceMessage } from '../../shared/contracts/messages.ts';
import {
  DEFAULT_RETRY_BASE_SECONDS,
  ENV,
  MAX_RECEIVE_COUNT,
} from '../../shared/contracts/names.ts';
import { createStores, type TableStores } from '../../shared/store/index.ts';
import { type LocalStack, PORT_ENV, startLocalStack } from '../stack.ts';
import { loadEvents, SCENARIO_DIR, WORKSPACES_DIR } from './events.ts';
import { dropRateFromEnv, pickDropped, recordAtSource } from './source-record.ts';

// Local tooling on Node 20 by design: the SDK's Node 22 notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const once = flag('once');
const demo = !flag('no-demo');
const timeoutSeconds = Number(
  args.find((a) => a.startsWith('--timeout='))?.slice('--timeout='.length) ?? 120,
);

/** First retry delay of a failed record in every function; fractions (0.5) allowed. */
function retryBaseSeconds(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env[ENV.retryBaseSeconds]?.trim();
  if (!raw) return String(DEFAULT_RETRY_BASE_SECONDS);
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`${ENV.retryBaseSeconds} must be a positive number of seconds (got '${raw}')`);
  }
  return String(n);
}

interface LocationStatus {
  businessId: string;
  locationId: string;
  shardId?: string;
  initialised: number;
  nodes: number;
}

async function locationStatus(
  stack: LocalStack,
  stores: TableStores,
  m: ShardCreateMessage,
): Promise<LocationStatus> {
  const { businessId, locationId } = m.data;
  const base = { businessId, locationId, initialised: 0, nodes: 0 };
  const shardId = (await stores.locations.get({ businessId, locationId }))?.shardId;
  if (!shardId) return base;
  if (stack.fleet) {
    // Ground truth: what the node agents actually hold.
    const nodes = stack.fleet.nodesOf(shardId);
    const key = `${businessId}#${locationId}`;
    return {
      ...base,
      shardId,
      nodes: nodes.length,
      initialised: nodes.filter((n) => n.state.schemas.has(key)).length,
    };
  }
  // External Citrus: no access to the nodes, so trust the recorded node sync state.
  const nodes = (await stores.nodes.list(shardId)).filter((n) => n.status !== 'decommissioned');
  return {
    ...base,
    shardId,
    nodes: nodes.length,
    initialised: nodes.filter((n) => n.status === 'active').length,
  };
}

interface WorkspaceStatus {
  workspaceId: string;
  location: string;
  /** What the newest sample event says: monitored on every node, or on none. */
  expect: 'monitored' | 'deleted';
  shardId?: string;
  /** Nodes holding the store (monitored) or still holding it (deleted). */
  holding: number;
  nodes: number;
  ok: boolean;
}

/** The newest event per workspace decides (a delete wins a tie, as in the handler). */
function expectedWorkspaces(events: WorkspaceMessage[]): Map<string, WorkspaceMessage> {
  const newest = new Map<string, WorkspaceMessage>();
  const keyOf = (m: WorkspaceMessage) =>
    `${new Date(m.occurredAt).toISOString()}#${m.type === 'workspace.deleted' ? 1 : 0}`;
  for (const m of events) {
    const known = newest.get(m.data.workspaceId);
    if (!known || keyOf(m) >= keyOf(known)) newest.set(m.data.workspaceId, m);
  }
  return newest;
}

async function workspaceStatus(
  stack: LocalStack,
  stores: TableStores,
  m: WorkspaceMessage,
): Promise<WorkspaceStatus> {
  const { workspaceId, businessId, locationId } = m.data;
  const expect = m.type === 'workspace.deleted' ? 'deleted' : 'monitored';
  const base = { workspaceId, location: `${businessId}/${locationId}`, expect } as const;
  const shardId = (await stores.locations.get({ businessId, locationId }))?.shardId;
  const recorded = (await stores.workspaces.get(workspaceId))?.status;
  const recordOk = expect === 'deleted' ? recorded === 'deleted' : recorded === 'active';
  if (stack.fleet) {
    // Ground truth: the node agents' monitored stores (a deleted one must be on no node).
    const nodes = shardId ? stack.fleet.nodesOf(shardId) : [];
    const holders = stack.fleet.nodes.filter((n) => n.state.stores.has(workspaceId));
    const onShard = holders.filter((n) => nodes.includes(n)).length;
    const ok =
      recordOk &&
      (expect === 'deleted'
        ? holders.length === 0
        : nodes.length > 0 && onShard === nodes.length && holders.length === onShard);
    return {
      ...base,
      ...(shardId ? { shardId } : {}),
      holding: holders.length,
      nodes: nodes.length,
      ok,
    };
  }
  // External Citrus: no access to the nodes; trust the store resource and node sync state.
  if (!shardId) return { ...base, holding: 0, nodes: 0, ok: false };
  const nodes = (await stores.nodes.list(shardId)).filter((n) => n.status !== 'decommissioned');
  const synced = nodes.filter((n) => n.status === 'active').length;
  const store = (await stores.resources.list(shardId)).find((r) => r.workspaceId === workspaceId);
  const storeOk = store?.status === (expect === 'deleted' ? 'deleted' : 'active');
  const ok = recordOk && storeOk && nodes.length > 0 && synced === nodes.length;
  return {
    ...base,
    shardId,
    holding: expect === 'deleted' ? nodes.length - synced : synced,
    nodes: nodes.length,
    ok,
  };
}

async function dlqDepths(stack: LocalStack): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, url] of Object.entries(stack.queues)) {
    if (!name.endsWith('-dlq')) continue;
    const a = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    out[name] =
      Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  return out;
}

function progressLine(stack: LocalStack, dlq: Record<string, number>): string {
  const processed = stack.pollers.reduce((n, p) => n + p.stats.deleted, 0);
  const failed = stack.pollers.reduce((n, p) => n + p.stats.failed, 0);
  const inDlq = Object.values(dlq).reduce((a, b) => a + b, 0);
  const perNode = stack.fleet
    ? stack.fleet.nodes.map(
        (n) => `${n.nodeId.replace(/^shard-/, 's')}:${n.state.schemas.size}/${n.state.stores.size}`,
      )
    : [];
  return `[progress] processed ${processed}, failed attempts ${failed}, in DLQ ${inDlq}${
    perNode.length ? ` | schemas/stores per node ${perNode.join(' ')}` : ''
  }`;
}

/** Fixed-width table, two spaces between columns. */
function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  console.log(line(headers));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
}

const locationOk = (r: LocationStatus) =>
  Boolean(r.shardId) && r.nodes > 0 && r.initialised === r.nodes;

function printSummary(rows: LocationStatus[]): void {
  printTable(
    ['location', 'shard', 'nodes', 'ok'],
    rows.map((r) => [
      `${r.businessId}/${r.locationId}`,
      r.shardId ?? '-',
      `${r.initialised}/${r.nodes}`,
      locationOk(r) ? 'yes' : 'NO',
    ]),
  );
}

function printWorkspaceSummary(rows: WorkspaceStatus[]): void {
  printTable(
    ['workspace', 'location', 'shard', 'expect', 'store on', 'ok'],
    rows.map((r) => [
      r.workspaceId,
      r.location,
      r.shardId ?? '-',
      r.expect,
      `${r.holding}/${r.nodes}`,
      r.ok ? 'yes' : 'NO',
    ]),
  );
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const retryBase = retryBaseSeconds();
  const scenario = demo ? loadEvents([SCENARIO_DIR, WORKSPACES_DIR]) : [];
  const stack = await startLocalStack({
    log: flag('quiet') ? 'quiet' : 'pretty',
    source: flag('watch') ? 'ts' : 'bundle',
    functionEnv: { [ENV.retryBaseSeconds]: retryBase },
  });
  let stopping: Promise<void> | undefined;
  const shutdown = (code: number) => {
    stopping ??= (async () => {
      console.log('\nshutting down...');
      await stack.stop();
      process.exit(code);
    })();
  };
  process.on('SIGINT', () => shutdown(once ? 130 : 0));
  process.on('SIGTERM', () => shutdown(once ? 143 : 0));

  const e = stack.endpoints;
  console.log(
    // Since the process started (performance.now()'s origin): module loading counts too.
    `local stack up in ${(performance.now() / 1000).toFixed(1)} s (synth ${(
      stack.timings.synthMs / 1000
    ).toFixed(1)} s${stack.timings.synthCached ? ', reused from .local/synth' : ''})${
      flag('watch') ? ' [source mode: handler .ts via tsx]' : ''
    }`,
  );
  console.log(`  SQS       ${e.sqs}   (${PORT_ENV.sqs})`);
  console.log(`  DynamoDB  ${e.dynamodb}   (${PORT_ENV.dynamodb}) table ${stack.tableName}`);
  console.log(`  SSM       ${e.ssm}   (${PORT_ENV.ssm})`);
  console.log(`  Scheduler ${e.scheduler}   (${PORT_ENV.scheduler})`);
  console.log(`  Lambda    ${e.lambda}   (${PORT_ENV.lambda})`);
  console.log(
    `  Citrus    ${e.citrus}${stack.fleet ? `   (${PORT_ENV.citrus})` : '   (external, CITRUS_SERVER_URL)'}`,
  );
  if (e.nodes.length) {
    console.log(
      `  nodes     ${e.nodes[0]} ... ${e.nodes.at(-1)} (${e.nodes.length}, ${PORT_ENV.firstNode})`,
    );
  }
  console.log(`  functions ${stack.topology.functions.map((f) => f.name).join(', ')}`);
  console.log(
    `  retries   ${ENV.retryBaseSeconds}=${retryBase}: delay <= min(30, 2^(n-1)) x ${retryBase} s, DLQ after ${MAX_RECEIVE_COUNT} receives`,
  );
  console.log(`  queues    ${Object.keys(stack.queues).join(', ')}`);

  const source = e.source;
  console.log(
    `  source    ${source ?? 'off (external Citrus without SOURCE_SERVER_URL)'}${
      stack.managementServer
        ? `   (${PORT_ENV.source})`
        : source
          ? '   (external, SOURCE_SERVER_URL)'
          : ''
    }`,
  );
  // Lost events only converge when something can repair them.
  const dropRate = source ? dropRateFromEnv(process.env, once ? 0.2 : 0) : 0;
  const dropped = pickDropped(scenario.length, dropRate);
  for (const [index, { message }] of scenario.entries()) {
    if (source) await recordAtSource(source, message);
    if (!dropped.has(index)) await stack.sendMessage(message);
  }
  if (scenario.length)
    console.log(
      `sent ${scenario.length - dropped.size} sample messages from events/shard-create/ and events/workspaces/${
        dropped.size
          ? ` (${dropped.size} recorded at the management server but never sent, SOURCE_DROP_RATE=${dropRate})`
          : ''
      }`,
    );

  const stores = createStores({ tableName: stack.tableName, client: stack.ddb });
  const locations = scenario
    .map((s) => s.message)
    .filter((m): m is ShardCreateMessage => m.type === 'shard.create');
  const workspaces = [
    ...expectedWorkspaces(
      scenario
        .map((s) => s.message)
        .filter(
          (m): m is WorkspaceMessage =>
            m.type === 'workspace.created' || m.type === 'workspace.deleted',
        ),
    ).values(),
  ];

  if (!once) {
    const timer = setInterval(async () => {
      try {
        console.log(progressLine(stack, await dlqDepths(stack)));
      } catch {
        // Shutting down: the emulators may already be gone.
      }
    }, 5000);
    timer.unref();
    console.log('running; Ctrl-C to stop');
    await new Promise(() => undefined);
    return 0;
  }

  const deadline = t0 + timeoutSeconds * 1000;
  let rows: LocationStatus[] = [];
  let wsRows: WorkspaceStatus[] = [];
  let converged = false;
  const check = async () => {
    rows = await Promise.all(locations.map((m) => locationStatus(stack, stores, m)));
    wsRows = await Promise.all(workspaces.map((m) => workspaceStatus(stack, stores, m)));
    return rows.every(locationOk) && wsRows.every((r) => r.ok);
  };
  while (Date.now() < deadline) {
    try {
      await stack.waitForIdle(Math.max(1000, Math.min(5000, deadline - Date.now())));
      converged = await check();
      if (converged) break;
    } catch {
      // Not idle yet.
    }
    console.log(progressLine(stack, await dlqDepths(stack)));
    await new Promise((r) => setTimeout(r, 1000));
  }
  converged = await check();
  const dlq = await dlqDepths(stack);
  console.log('');
  printSummary(rows);
  if (wsRows.length > 0) {
    console.log('');
    printWorkspaceSummary(wsRows);
  }
  console.log(progressLine(stack, dlq));
  if (source) {
    const runs = await stores.source.history();
    const repaired = runs.reduce((n, run) => n + (run.repairsSent ?? 0), 0);
    console.log(
      `source sync: ${runs.length} runs, ${repaired} events repaired (${dropped.size} never sent)`,
    );
  }
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (converged) {
    console.log(
      `converged: ${rows.length} locations and ${wsRows.length} workspaces in ${seconds} s`,
    );
  } else console.log(`NOT converged after ${seconds} s (timeout ${timeoutSeconds} s)`);
  stopping = stack.stop();
  await stopping;
  return converged ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`start: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
