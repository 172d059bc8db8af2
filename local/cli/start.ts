// `npm start`: the local stack in the foreground plus the sample scenario (CONTRACTS §5).
//   --no-demo   stack only (for other tools to drive it)
//   --once      scenario, wait for drained queues + converged nodes, print a summary, exit
//   --watch     run handler sources (functions/<name>/handler.ts via tsx), not the CDK bundles
//   --quiet     function logs to .local/logs/local-stack.log instead of the terminal
//   --timeout=<seconds>  for --once (default 120)
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ShardCreateMessage } from '../../shared/contracts/messages.ts';
import { type LocalStack, PORT_ENV, startLocalStack } from '../stack.ts';
import { loadEvents, SCENARIO_DIR } from './events.ts';

// Local tooling on Node 20 by design: the SDK's Node 22 notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const once = flag('once');
const demo = !flag('no-demo');
const timeoutSeconds = Number(
  args.find((a) => a.startsWith('--timeout='))?.slice('--timeout='.length) ?? 120,
);

interface LocationStatus {
  businessId: string;
  locationId: string;
  shardId?: string;
  initialised: number;
  nodes: number;
}

async function locationStatus(
  stack: LocalStack,
  doc: DynamoDBDocumentClient,
  m: ShardCreateMessage,
): Promise<LocationStatus> {
  const { businessId, locationId } = m.data;
  const base = { businessId, locationId, initialised: 0, nodes: 0 };
  const loc = await doc.send(
    new GetCommand({
      TableName: stack.tableName,
      Key: { pk: `LOC#${businessId}#${locationId}`, sk: 'META' },
    }),
  );
  const shardId = loc.Item?.shardId as string | undefined;
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
  const out = await doc.send(
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :node)',
      ExpressionAttributeValues: { ':pk': `SHARD#${shardId}`, ':node': 'NODE#' },
    }),
  );
  const nodes = (out.Items ?? []).filter((n) => n.status !== 'decommissioned');
  return {
    ...base,
    shardId,
    nodes: nodes.length,
    initialised: nodes.filter((n) => n.status === 'active').length,
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
    ? stack.fleet.nodes.map((n) => `${n.nodeId.replace(/^shard-/, 's')}:${n.state.schemas.size}`)
    : [];
  return `[progress] processed ${processed}, failed attempts ${failed}, in DLQ ${inDlq}${
    perNode.length ? ` | schemas per node ${perNode.join(' ')}` : ''
  }`;
}

function printSummary(rows: LocationStatus[]): void {
  const table = rows.map((r) => ({
    location: `${r.businessId}/${r.locationId}`,
    shard: r.shardId ?? '-',
    nodes: `${r.initialised}/${r.nodes}`,
    ok: r.shardId && r.nodes > 0 && r.initialised === r.nodes ? 'yes' : 'NO',
  }));
  const widths = (['location', 'shard', 'nodes', 'ok'] as const).map((k) =>
    Math.max(k.length, ...table.map((t) => t[k].length)),
  );
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(['location', 'shard', 'nodes', 'ok']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const t of table) console.log(line([t.location, t.shard, t.nodes, t.ok]));
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const scenario = demo ? loadEvents([SCENARIO_DIR]) : [];
  const stack = await startLocalStack({
    log: flag('quiet') ? 'quiet' : 'pretty',
    source: flag('watch') ? 'ts' : 'bundle',
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
    `local stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s (synth ${(
      stack.timings.synthMs / 1000
    ).toFixed(1)} s)${flag('watch') ? ' [source mode: handler .ts via tsx]' : ''}`,
  );
  console.log(`  SQS       ${e.sqs}   (${PORT_ENV.sqs})`);
  console.log(`  DynamoDB  ${e.dynamodb}   (${PORT_ENV.dynamodb}) table ${stack.tableName}`);
  console.log(`  SSM       ${e.ssm}   (${PORT_ENV.ssm})`);
  console.log(
    `  Citrus    ${e.citrus}${stack.fleet ? `   (${PORT_ENV.citrus})` : '   (external, CITRUS_SERVER_URL)'}`,
  );
  if (e.nodes.length) {
    console.log(
      `  nodes     ${e.nodes[0]} ... ${e.nodes.at(-1)} (${e.nodes.length}, ${PORT_ENV.firstNode})`,
    );
  }
  console.log(`  functions ${stack.topology.functions.map((f) => f.name).join(', ')}`);
  console.log(`  queues    ${Object.keys(stack.queues).join(', ')}`);

  for (const { message } of scenario) await stack.sendMessage(message);
  if (scenario.length)
    console.log(`sent ${scenario.length} sample messages from events/shard-create/`);

  const doc = DynamoDBDocumentClient.from(stack.ddb);
  const locations = scenario
    .map((s) => s.message)
    .filter((m): m is ShardCreateMessage => m.type === 'shard.create');

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
  let converged = false;
  while (Date.now() < deadline) {
    try {
      await stack.waitForIdle(Math.max(1000, Math.min(5000, deadline - Date.now())));
      rows = await Promise.all(locations.map((m) => locationStatus(stack, doc, m)));
      converged = rows.every((r) => r.shardId && r.nodes > 0 && r.initialised === r.nodes);
      if (converged) break;
    } catch {
      // Not idle yet.
    }
    console.log(progressLine(stack, await dlqDepths(stack)));
    await new Promise((r) => setTimeout(r, 1000));
  }
  rows = await Promise.all(locations.map((m) => locationStatus(stack, doc, m)));
  const dlq = await dlqDepths(stack);
  console.log('');
  printSummary(rows);
  console.log(progressLine(stack, dlq));
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (converged) console.log(`converged: ${rows.length} locations in ${seconds} s`);
  else console.log(`NOT converged after ${seconds} s (timeout ${timeoutSeconds} s)`);
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
