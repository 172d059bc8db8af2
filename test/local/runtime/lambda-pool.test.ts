import { afterAll, describe, expect, it } from 'vitest';
import { LambdaPool } from '../../../local/runtime/lambda-pool.ts';

const FIXTURE = new URL('./fixtures/runtime-flags.mjs', import.meta.url).pathname;

describe('LambdaPool sandboxes', () => {
  const pools: LambdaPool[] = [];
  afterAll(() => Promise.all(pools.map((p) => p.stop())));

  const poolWith = (env: Record<string, string>) => {
    const pool = new LambdaPool(
      {
        name: 'echo',
        functionName: 'echo',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:echo',
        entry: FIXTURE,
        exportName: 'handler',
        timeoutSeconds: 30,
        memorySize: 128,
        env: { AWS_REGION: 'us-east-1', ...env },
      },
      1,
      () => undefined,
    );
    pools.push(pool);
    return pool;
  };

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
});
