// Helpers for the integration tests on the local stack: bounded polling, queue and table
// reads through the real SDK, node simulator ground truth, and a Citrus fault proxy.
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConnection } from 'node:net';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message as SqsMessage,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { NodeAgentSimulator } from '../../local/simulators/node-agent.ts';
import {
  EPHEMERAL_PORTS,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from '../../local/stack.ts';
import { keys, shardPartition } from '../../shared/store/schema.ts';

/** Every port of the stack ephemeral: tests never collide with `npm start` or each other. */
export const EPHEMERAL = EPHEMERAL_PORTS;

/**
 * Function env for stacks under test: a failed record comes back within 1 s, 2 s, 4 s ...
 * capped at 30 s (the retry ladder at base 1 s, its full 720 s coverage included).
 */
export const FAST_RETRY_ENV = { RETRY_BASE_SECONDS: '1' } as const;

/**
 * For the dead-letter test (with a lowered maxReceiveCount): delays of at most 0, 1, 2, 4, 8 s
 * over the first five receives, ~7 s of backoff in all on average.
 */
export const FASTER_RETRY_ENV = { RETRY_BASE_SECONDS: '0.5' } as const;

/**
 * Sweep interval for stacks testing the event-driven flows: the scheduled sweep (tested in
 * reconciliation.test.ts) would otherwise converge shards in the middle of an assertion,
 * e.g. bring a `pending_sync` node back to `active`.
 */
export const NO_SWEEP_SECONDS = 3600;

/**
 * A local stack for one test file: ephemeral ports, logs to a file, no timed sweep or source
 * sync (tests fire them themselves: the events they send directly are unknown to the management
 * server, whose full snapshots would otherwise see them as deleted), 3 shards x 3 nodes, fast
 * retries; `overrides` change any of it.
 */
export function startTestStack(overrides: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    ports: EPHEMERAL,
    log: 'quiet',
    reconcileIntervalSeconds: NO_SWEEP_SECONDS,
    sourceSyncIntervalSeconds: NO_SWEEP_SECONDS,
    fleet: { shards: 3, nodesPerShard: 3 },
    functionEnv: FAST_RETRY_ENV,
    ...overrides,
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `condition` until it returns a truthy value (which is returned) or `timeoutMs` passes;
 * the error names `what` and the last value or error seen.
 */
export async function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error instanceof Error ? error.message : error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Visible + in flight + delayed messages of a local queue. */
export async function queueDepth(stack: LocalStack, queue: string): Promise<number> {
  const out = await stack.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: stack.queues[queue],
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const a = out.Attributes ?? {};
  return (
    Number(a.ApproximateNumberOfMessages ?? 0) +
    Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(a.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** Visible messages only (what a receive or a move task would get now). */
export async function visibleCount(stack: LocalStack, queue: string): Promise<number> {
  const out = await stack.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: stack.queues[queue],
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
}

export async function queueArn(stack: LocalStack, queue: string): Promise<string> {
  const out = await stack.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: stack.queues[queue], AttributeNames: ['QueueArn'] }),
  );
  return out.Attributes!.QueueArn!;
}

/**
 * Reads every visible message of a queue (e.g. a DLQ) without consuming it: all are received
 * (hidden meanwhile, so none is read twice), then made visible again at once. Releasing them
 * explicitly matters locally: the SQS emulator counts an expired in-flight message as visible
 * again only after the next receive, so a move task started later would not see it.
 */
export async function peekAll(stack: LocalStack, queue: string): Promise<SqsMessage[]> {
  const QueueUrl = stack.queues[queue];
  const seen = new Map<string, SqsMessage>();
  for (;;) {
    const out = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 30,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const batch = out.Messages ?? [];
    if (batch.length === 0) break;
    for (const m of batch) seen.set(m.MessageId!, m);
  }
  const all = [...seen.values()];
  for (let i = 0; i < all.length; i += 10) {
    await stack.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: all.slice(i, i + 10).map((m, n) => ({
          Id: String(n),
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
  return all;
}

export function doc(stack: LocalStack): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(stack.ddb);
}

export async function getItem<T = Record<string, unknown>>(
  stack: LocalStack,
  pk: string,
  sk = 'META',
): Promise<T | undefined> {
  const out = await doc(stack).send(
    new GetCommand({ TableName: stack.tableName, Key: { pk, sk }, ConsistentRead: true }),
  );
  return out.Item as T | undefined;
}

export async function queryPartition(
  stack: LocalStack,
  pk: string,
  skPrefix: string,
): Promise<Array<Record<string, unknown>>> {
  const out = await doc(stack).send(
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :sk)',
      ExpressionAttributeValues: { ':pk': pk, ':sk': skPrefix },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []) as Array<Record<string, unknown>>;
}

export interface LocationRef {
  businessId: string;
  locationId: string;
}

export const locationRecord = (stack: LocalStack, l: LocationRef) =>
  getItem<{ status: string; shardId?: string; shardKey?: string }>(
    stack,
    keys.location(l.businessId, l.locationId).pk,
  );

export const workspaceRecord = (stack: LocalStack, workspaceId: string) =>
  getItem<{ status: string; shardId?: string; lastEventAt: string }>(
    stack,
    keys.workspace(workspaceId).pk,
  );

export const nodeRecords = (stack: LocalStack, shardId: string) =>
  queryPartition(stack, shardPartition.pk(shardId), shardPartition.nodes);

export const schemaKeyOf = (l: LocationRef) => `${l.businessId}#${l.locationId}`;
export const schemaPath = (l: LocationRef) =>
  `/v1/schemas/${encodeURIComponent(l.businessId)}/${encodeURIComponent(l.locationId)}`;

/** Requests a node agent answered for `method path` (any status). */
export const requestsTo = (node: NodeAgentSimulator, method: string, path: string) =>
  node.requests.filter((r) => r.method === method && r.path === path);

/** True when a TCP connect to the URL's port succeeds. */
export const isBound = (url: string) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: Number(new URL(url).port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Every URL the stack bound (emulators, and its own simulators if any). */
export const stackUrls = (stack: LocalStack) => [
  stack.endpoints.sqs,
  stack.endpoints.dynamodb,
  stack.endpoints.ssm,
  ...(stack.fleet ? [stack.endpoints.citrus, ...stack.endpoints.nodes] : []),
  ...(stack.managementServer ? [stack.managementServer.url] : []),
];

/** Stops the stack and throws if any of its ports is still bound afterwards. */
export async function stopAndCheckPorts(stack: LocalStack | undefined): Promise<void> {
  if (!stack) return;
  const urls = stackUrls(stack);
  await stack.stop();
  const bound = (await Promise.all(urls.map(async (u) => ((await isBound(u)) ? u : '')))).filter(
    Boolean,
  );
  if (bound.length > 0) throw new Error(`ports still bound after stop: ${bound.join(', ')}`);
}

export interface CitrusProxy {
  url: string;
  /** Locations (`businessId#locationId`) whose `POST /api/register` gets a 503. */
  failRegister: Set<string>;
  /** `POST /api/register` calls seen per location: all, and those forwarded upstream. */
  registerCalls: Map<string, { seen: number; forwarded: number; ok: number }>;
  stop(): Promise<void>;
}

const readAll = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/**
 * A transparent HTTP proxy in front of a Citrus, failing `register` for chosen locations with
 * 503 (what an overloaded Citrus does for some requests): a per-location transient fault.
 */
export async function startCitrusProxy(upstream: string): Promise<CitrusProxy> {
  const failRegister = new Set<string>();
  const registerCalls = new Map<string, { seen: number; forwarded: number; ok: number }>();
  const target = new URL(upstream);
  const server: Server = createServer(async (req, res) => {
    const body = await readAll(req);
    let counter: { seen: number; forwarded: number; ok: number } | undefined;
    if (req.method === 'POST' && req.url === '/api/register') {
      let key = '?';
      try {
        const parsed = JSON.parse(body.toString('utf8')) as LocationRef;
        key = schemaKeyOf(parsed);
      } catch {
        // Forwarded as is: Citrus answers 400.
      }
      counter = registerCalls.get(key) ?? { seen: 0, forwarded: 0, ok: 0 };
      registerCalls.set(key, counter);
      counter.seen++;
      if (failRegister.has(key)) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'injected by the test proxy' }));
        return;
      }
      counter.forwarded++;
    }
    const c = counter;
    const upstreamReq = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (up) => {
        if (c && (up.statusCode ?? 0) < 300) c.ok++;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    upstreamReq.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    failRegister,
    registerCalls,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
