// The bundled CLI (what `npx shardctl` runs) as a child process against a local stack on
// ephemeral ports, which it finds through the same *_PORT variables `npm start` reads.
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL } from '../../../local/defaults.ts';
import { REPO_ROOT } from '../../../local/runtime/lambda-pool.ts';
import type { LocalStack } from '../../../local/stack.ts';
import { createEnvelope } from '../../../shared/contracts/producer.ts';
import { createStores, type TableStores } from '../../../shared/store/index.ts';
import { queueDepth, startTestStack, waitFor } from '../../integration/support.ts';

const BIN = join(REPO_ROOT, 'dist', 'shardctl.mjs');
// Every test runs several node processes; a busy 2-core machine needs the room.
vi.setConfig({ testTimeout: 180_000 });

let stack: LocalStack;
let stores: TableStores;
let env: NodeJS.ProcessEnv;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously: the stack under test lives in this process and must answer. */
function shardctl(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...env, ...extraEnv }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function json(args: string[]) {
  const run = await shardctl([...args, '--local', '--output', 'json']);
  expect(run.stderr, run.stderr).not.toMatch(/NodeVersionSupportWarning|Error:/);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

const port = (url: string) => new URL(url).port;
const sweepCount = async () => (await stores.sweeps.last())?.sweepCount ?? 0;

beforeAll(async () => {
  // The bundle the package's `bin` points at, built as `npm install` builds it.
  execFileSync(process.execPath, [join(REPO_ROOT, 'cli', 'build.mjs')], { stdio: 'inherit' });
  stack = await startTestStack({ reconcileIntervalSeconds: 1 });
  stores = createStores({ tableName: stack.tableName, client: stack.ddb });
  const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _quiet, ...parent } = process.env;
  env = {
    ...parent,
    SQS_PORT: port(stack.endpoints.sqs),
    DYNAMODB_PORT: port(stack.endpoints.dynamodb),
    SSM_PORT: port(stack.endpoints.ssm),
    SCHEDULER_PORT: port(stack.endpoints.scheduler),
    LAMBDA_PORT: port(stack.endpoints.lambda),
  };
  // Synthesis bundles every function: slow on a busy machine.
}, 240_000);
afterAll(async () => {
  await stack?.stop();
});

/** Every command path, found by walking the help output itself. */
async function commandPaths(path: string[] = []): Promise<string[][]> {
  const { stdout, code } = await shardctl([...path, '--help']);
  expect(code).toBe(0);
  const section = stdout.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const names = [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)]
    .map((m) => m[1]!)
    .filter((name) => name !== 'help');
  const nested = await Promise.all(names.map((name) => commandPaths([...path, name])));
  return [path, ...nested.flat()];
}

describe('shardctl as a command', () => {
  it('prints help for every command, and its version', async () => {
    const paths = await commandPaths();
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'status',
        'dlq replay',
        'dlq purge',
        'reconcile now',
        'reconcile pause',
        'lease clear',
        'keys rotate',
      ]),
    );
    const version = await shardctl(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });

  it('exits 2 on a usage error, with the usage on stderr', async () => {
    for (const args of [
      ['dlq', 'peek'],
      ['dlq', 'peek', 'no-such-dlq'],
      ['status', '--limit', '0'],
      ['reconcile', 'bogus'],
      ['dlq', 'purge', 'shard-creation-dlq', '--local'],
      ['status'],
    ]) {
      // No STAGE: a command without --stage or --local is a usage error too.
      const run = await shardctl(args, { STAGE: '' });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/Usage: shardctl/);
      expect(run.stdout).toBe('');
    }
  });

  it('says how to start the local stack when none is running, exit 1, one JSON document', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const run = await shardctl(['dlq', 'list', '--local'], { SQS_PORT: String(closed) });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`no local stack on 127.0.0.1:${closed}`);
    expect(run.stderr).toContain('npm start');
    expect(JSON.parse(run.stdout)).toEqual({ error: expect.stringContaining('no local stack') });
  });
});

describe('shardctl status', () => {
  it('is one JSON document with the fleet, queues, last sweep, schedule and kill switch', async () => {
    await stack.sendMessage(
      createEnvelope('workspace.created', {
        workspaceId: 'ws-unplaced',
        userId: 'u1',
        businessId: 'biz-nowhere',
        locationId: 'loc-nowhere',
      }),
    );
    await stack.sendRaw('convergence-dlq', '{"not":"a message"}', {
      failureReason: { DataType: 'String', StringValue: 'invalid message' },
    });
    await waitFor('a sweep summary', async () => (await sweepCount()) > 0);
    // Waited for in the table: each look through the CLI is a node process.
    await waitFor(
      'the unplaced workspace pending placement',
      async () => (await stores.workspaces.get('ws-unplaced'))?.status === 'pending_placement',
    );
    const status = await json(['status']);
    expect(status).toMatchObject({
      stage: LOCAL.stage,
      shards: { known: 3, failed: { count: 0, items: [] } },
      nodes: {
        known: 9,
        joining: { count: expect.any(Number) },
        pending_sync: { count: expect.any(Number) },
        error: { count: 0, items: [] },
      },
      workspaces: {
        pending_placement: {
          count: 1,
          items: [
            expect.objectContaining({ workspaceId: 'ws-unplaced', locationId: 'loc-nowhere' }),
          ],
        },
      },
      lastSweep: { sweepCount: expect.any(Number), errors: [], counts: expect.any(Object) },
      reconcile: { schedule: { state: 'ENABLED' }, enabled: true },
    });
    expect(status.queues.map((q: { name: string }) => q.name).sort()).toEqual(
      Object.keys(stack.queues).sort(),
    );
    expect(status.queues.find((q: { name: string }) => q.name === 'convergence-dlq')).toMatchObject(
      { dlq: true, visible: 1, oldestAgeSeconds: expect.any(Number), oldestAgeExact: true },
    );
    const table = await shardctl(['status', '--local', '--output', 'table']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^queues:$/m);
  });
});

describe('shardctl reconcile', () => {
  it('pause stops the local schedule, now runs one sweep, resume starts it again', async () => {
    const scheduler = stack.scheduler!;
    expect(await json(['reconcile', 'pause'])).toMatchObject({ state: 'DISABLED' });
    // A sweep fired just before the pause may still finish; after it, two paused ticks pass.
    await waitFor('no scheduled sweep running', () => scheduler.inFlight === 0);
    const paused = await sweepCount();
    const ticks = scheduler.stats.paused;
    await waitFor('two paused ticks', () => scheduler.stats.paused >= ticks + 2);
    expect(await sweepCount()).toBe(paused);
    expect((await json(['status'])).reconcile.schedule.state).toBe('DISABLED');

    const swept = await json(['reconcile', 'now']);
    expect(swept).toMatchObject({ outcome: 'swept', sweepCount: paused + 1 });
    expect(await sweepCount()).toBe(paused + 1);

    expect(await json(['reconcile', 'resume'])).toMatchObject({ state: 'ENABLED' });
    await waitFor('a scheduled sweep after resume', async () => (await sweepCount()) > paused + 1);
  });

  it('the kill switch makes a sweep exit at once', async () => {
    expect(await json(['reconcile', 'disable'])).toEqual({ 'reconcile/enabled': false });
    expect(await json(['reconcile', 'now'])).toEqual({ outcome: 'disabled' });
    expect(await json(['reconcile', 'enable'])).toEqual({ 'reconcile/enabled': true });
  });
});

describe('shardctl dlq', () => {
  const DLQ = 'shard-creation-dlq';
  // A bad businessType: poison, so a replayed copy comes straight back to the DLQ.
  const poison = (businessId: string) => {
    const valid = createEnvelope('shard.create', {
      businessId,
      locationId: 'l1',
      businessType: 'retail',
    });
    return JSON.stringify({ ...valid, data: { ...valid.data, businessType: 'NOT A TYPE' } });
  };
  const dead = (businessId: string, failedAt: string, reason: string, replayCount?: number) =>
    stack.sendRaw(DLQ, poison(businessId), {
      failureReason: { DataType: 'String', StringValue: reason },
      failedAt: { DataType: 'String', StringValue: failedAt },
      ...(replayCount
        ? { replayCount: { DataType: 'Number', StringValue: String(replayCount) } }
        : {}),
    });
  const ids = (letters: Array<{ businessId: string }>) => letters.map((l) => l.businessId).sort();

  it('replays by time and reason, leaves looping messages, and counts replays', async () => {
    await dead('early', '2026-01-01T10:00:00.000Z', 'Citrus register failed: 503');
    await dead('inside', '2026-01-02T10:00:00.000Z', 'Citrus register failed: 503');
    await dead('other-reason', '2026-01-02T11:00:00.000Z', 'invalid businessType');
    await dead('looping', '2026-01-02T12:00:00.000Z', 'Citrus register failed: 503', 3);
    await dead('late', '2026-01-03T10:00:00.000Z', 'Citrus register failed: 503');
    const filter = [
      'dlq',
      'replay',
      DLQ,
      '--since',
      '2026-01-02T00:00:00Z',
      '--until',
      '2026-01-03T00:00:00Z',
      '--reason',
      'citrus REGISTER',
    ];
    const dry = await json([...filter, '--dry-run']);
    expect(dry).toMatchObject({ dryRun: true, scanned: 5, matched: 1, replayed: 0 });
    expect(ids(dry.wouldReplay)).toEqual(['inside']);
    expect(ids(dry.looping)).toEqual(['looping']);

    const done = await json(filter);
    expect(done).toMatchObject({ matched: 1, replayed: 1 });
    expect(ids(done.looping)).toEqual(['looping']);
    // Poison again: the handler sends it back, with the replay counted.
    await waitFor('the replayed message back in the DLQ', async () => {
      return (
        (await queueDepth(stack, DLQ)) === 5 && (await queueDepth(stack, 'shard-creation')) === 0
      );
    });
    const letters = await json(['dlq', 'peek', DLQ, '--limit', '10']);
    const back = letters.find(
      (l: { businessId: string; replayCount: number }) =>
        l.businessId === 'inside' && l.replayCount === 1,
    );
    expect(back, JSON.stringify(letters)).toBeDefined();
    expect(back.failureReason).toMatch(/businessType/);

    const guarded = await json([
      'dlq',
      'replay',
      DLQ,
      '--business',
      'inside',
      '--max-replays',
      '1',
    ]);
    expect(guarded).toMatchObject({ matched: 0, replayed: 0 });
    expect(ids(guarded.looping)).toEqual(['inside']);
  });

  it('purges a DLQ only with --confirm', async () => {
    expect(await queueDepth(stack, DLQ)).toBeGreaterThan(0);
    const refused = await shardctl(['dlq', 'purge', DLQ, '--local']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--confirm');
    const purged = await json(['dlq', 'purge', DLQ, '--confirm']);
    expect(purged).toMatchObject({ dlq: DLQ, purged: 5 });
    await waitFor('an empty DLQ', async () => (await queueDepth(stack, DLQ)) === 0);
  });
});
