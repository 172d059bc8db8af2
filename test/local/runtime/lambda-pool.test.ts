import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { LambdaPool, type PoolFunction } from '../../../local/runtime/lambda-pool.ts';

const FIXTURE = new URL('./fixtures/runtime-flags.mjs', import.meta.url).pathname;
const HANDLERS = new URL('./fixtures/handlers.ts', import.meta.url).pathname;

describe('LambdaPool sandboxes', () => {
  const pools: LambdaPool[] = [];
  afterAll(() => Promise.all(pools.map((p) => p.stop())));

  /** A one-sandbox pool of `exportName` from `entry` (default: the runtime-flags fixture). */
  const poolOf = (fn: { env?: Record<string, string> } & Partial<PoolFunction> = {}) => {
    const { env = {}, ...rest } = fn;
    const name = rest.exportName ?? 'handler';
    const pool = new LambdaPool(
      {
        name,
        functionName: name,
        functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
        entry: FIXTURE,
        exportName: 'handler',
        timeoutSeconds: 30,
        memorySize: 128,
        ...rest,
        env: { AWS_REGION: 'us-east-1', ...env },
      },
      1,
      () => undefined,
    );
    pools.push(pool);
    return pool;
  };
  const poolWith = (env: Record<string, string>) => poolOf({ env });

  const flagsIn = async (pool: LambdaPool) => {
    const result = await pool.invoke({});
    if (!result.ok) throw new Error(JSON.stringify(result.error));
    return result.result;
  };

  it('runs as deployed: no Node flags of its own (no --enable-source-maps)', async () => {
    expect(await flagsIn(poolWith({}))).toEqual({ execArgv: [], sourceMapsEnabled: false });
  });

  it("applies the function's NODE_OPTIONS, as Lambda does", async () => {
    expect(await flagsIn(poolWith({ NODE_OPTIONS: ' --enable-source-maps ' }))).toEqual({
      execArgv: ['--enable-source-maps'],
      sourceMapsEnabled: true,
    });
  });

  it("has the heap Lambda's Node.js bootstrap gives a function of its memory size", async () => {
    // Lambda starts node with --max-semi-space-size = memory/10/2 and --max-old-space-size =
    // memory - memory/10 (MB); the same flags on a plain node give the reference limit.
    const limitWithLambdaFlags = (memorySize: number) => {
      const young = Math.floor(memorySize / 10);
      const script = "console.log(require('v8').getHeapStatistics().heap_size_limit / 2 ** 20)";
      return Number(
        execFileSync(process.execPath, [
          `--max-semi-space-size=${Math.floor(young / 2)}`,
          `--max-old-space-size=${memorySize - young}`,
          '-e',
          script,
        ]),
      );
    };
    for (const memorySize of [128, 512, 1769]) {
      const result = await flagsIn(poolOf({ exportName: 'heap', memorySize }));
      expect(result, `${memorySize} MB`).toEqual({ heapLimitMb: limitWithLambdaFlags(memorySize) });
    }
  });

  it('fails an invocation still running when it stops, at once rather than at its timeout', async () => {
    // Its timeout far beyond the test's own: an invocation left to it fails the test.
    const pool = poolOf({ entry: HANDLERS, exportName: 'slow', timeoutSeconds: 900 });
    expect(await pool.invoke({ sleepMs: 0 })).toMatchObject({ ok: true });
    const running = pool.invoke({ sleepMs: 3_600_000 });
    // The warm sandbox has been handed the event (one turn of the event loop).
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.inFlight).toBe(1);
    await pool.stop();
    expect(await running).toMatchObject({
      ok: false,
      timedOut: false,
      error: { errorType: 'Runtime.ExitError', errorMessage: expect.stringContaining('stopped') },
    });
    expect(pool.inFlight).toBe(0);
    await expect(pool.invoke({ sleepMs: 0 })).rejects.toThrow(/stopped/);
  });
});
