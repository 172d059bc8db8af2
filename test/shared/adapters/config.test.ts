import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SsmEmulator, startSsmEmulator } from '../../../local/emulators/index.ts';
import { ConfigError, createConfigSource } from '../../../shared/adapters/config.ts';

let emulator: SsmEmulator;
let ssm: SSMClient;
let stages = 0;
const KEYS = '{"current":{"id":"k1","secret":"very-secret-signing-key"}}';

const CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
};

beforeAll(async () => {
  emulator = await startSsmEmulator({ port: 0 });
  ssm = new SSMClient({ endpoint: emulator.url, ...CLIENT_CONFIG });
});
afterAll(() => emulator.stop());

/** A stage with these parameters; `load` reads it through `client` (default: the shared one). */
async function stage(values: Record<string, [string, 'String' | 'SecureString']>, client = ssm) {
  const name = `cfg${++stages}`;
  const put = (key: string, Value: string, Type: 'String' | 'SecureString' = 'String') =>
    ssm.send(
      new PutParameterCommand({
        Name: `/shard-control/${name}/${key}`,
        Value,
        Type,
        Overwrite: true,
      }),
    );
  for (const [key, [value, type]] of Object.entries(values)) await put(key, value, type);
  return {
    load: createConfigSource({
      stage: name,
      provider: new SSMProvider({ awsSdkV3Client: client }),
    }),
    put,
  };
}

const required = {
  'citrus/url': ['http://citrus', 'String'],
  'citrus/api-key': ['citrus-secret-key', 'SecureString'],
  'node-agent/signing-keys': [KEYS, 'SecureString'],
} as const satisfies Record<string, [string, 'String' | 'SecureString']>;

describe('createConfigSource', () => {
  it('reads every parameter, decrypts secrets into Secret, and applies defaults', async () => {
    const { load } = await stage({ ...required, 'reconcile/enabled': ['FALSE', 'String'] });
    const config = await load();
    expect(config.citrus).toMatchObject({
      url: 'http://citrus',
      timeoutMs: 5000,
      retryAttempts: 3,
    });
    expect(config.citrus.apiKey.reveal()).toBe('citrus-secret-key');
    expect(config.nodeAgent.signingKeys.reveal().current.id).toBe('k1');
    expect(config.reconcile).toEqual({
      orphanGraceSeconds: 3600,
      fullVerifyEvery: 12,
      errorAfterFailures: 5,
      enabled: false,
    });
    expect(JSON.stringify(config)).not.toMatch(/citrus-secret-key|very-secret-signing-key/);
  });

  it('gives back the same object while values are unchanged, and sees changes on a fresh read', async () => {
    const { load, put } = await stage({ ...required, 'reconcile/enabled': ['true', 'String'] });
    const first = await load();
    expect(await load()).toBe(first);
    await put('reconcile/enabled', 'false');
    expect((await load()).reconcile.enabled).toBe(true);
    const fresh = await load({ fresh: true });
    expect(fresh.reconcile.enabled).toBe(false);
    expect(fresh).not.toBe(first);
  });

  it('reads SSM once per cache lifetime, secrets included', async () => {
    const counted = new SSMClient({ endpoint: emulator.url, ...CLIENT_CONFIG });
    const sent: string[] = [];
    counted.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countSsmRequests' },
    );
    const { load, put } = await stage(required, counted);
    await load();
    expect(sent.length).toBeGreaterThan(0);
    sent.length = 0;
    // Every record of every batch reads the configuration: none of them may reach SSM.
    for (let i = 0; i < 5; i++) await load();
    expect(sent).toEqual([]);
    // A rotated secret arrives with the next read after the cache lifetime (or a fresh read).
    await put('citrus/api-key', 'rotated-citrus-key', 'SecureString');
    expect((await load()).citrus.apiKey.reveal()).toBe('citrus-secret-key');
    expect((await load({ fresh: true })).citrus.apiKey.reveal()).toBe('rotated-citrus-key');
    counted.destroy();
  });

  it('caches no failed read: SSM down, then back, is read again at once', async () => {
    const flaky = new SSMClient({ endpoint: emulator.url, ...CLIENT_CONFIG, maxAttempts: 1 });
    let down = true;
    flaky.middlewareStack.add(
      (next) => (args) => {
        if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
        return next(args);
      },
      { step: 'initialize', name: 'ssmOutage' },
    );
    const { load } = await stage(required, flaky);
    await expect(load()).rejects.toThrow(ConfigError);
    await expect(load()).rejects.toThrow(ConfigError);
    down = false;
    expect((await load()).citrus.apiKey.reveal()).toBe('citrus-secret-key');
    // Down again within the cache lifetime: the configuration read is kept.
    down = true;
    expect((await load()).citrus.url).toBe('http://citrus');
    flaky.destroy();
  });

  it('names a missing required parameter', async () => {
    const { load } = await stage({ 'citrus/url': ['http://citrus', 'String'] });
    await expect(load()).rejects.toThrow(ConfigError);
    await expect(load()).rejects.toThrow(
      /SSM parameter \/shard-control\/cfg\d+\/citrus\/api-key is missing/,
    );
  });

  it('rejects malformed signing keys without echoing them', async () => {
    const { load } = await stage({
      ...required,
      'node-agent/signing-keys': ['{"current":{"id":"k1"},"x":"leak-me"}', 'SecureString'],
    });
    const error = await load().catch((e: Error) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/signing-keys is malformed: current.secret/);
    expect((error as Error).message).not.toContain('leak-me');
  });

  it('rejects a non-numeric number', async () => {
    const { load } = await stage({ ...required, 'citrus/timeout-ms': ['soon', 'String'] });
    await expect(load()).rejects.toThrow(/citrus\/timeout-ms is not a non-negative number/);
  });

  it('turns source reconciliation off without a url, and reads the token only with one', async () => {
    expect((await (await stage(required)).load()).source).toEqual({ state: 'off' });
    const on = await stage({
      ...required,
      'source/url': ['http://mgmt', 'String'],
      'source/token': ['source-secret-token', 'SecureString'],
      'source/max-deletes': ['7', 'String'],
    });
    const config = await on.load();
    expect(config.source).toMatchObject({
      state: 'on',
      url: 'http://mgmt',
      fullSyncEvery: 12,
      deleteGraceSeconds: 3600,
      maxDeletes: 7,
      timeoutMs: 5000,
      retryAttempts: 3,
    });
    expect(config.source.state === 'on' && config.source.token.reveal()).toBe(
      'source-secret-token',
    );
    expect(JSON.stringify(config)).not.toContain('source-secret-token');
  });

  it('keeps a broken source section from breaking the other functions', async () => {
    const { load } = await stage({ ...required, 'source/url': ['http://mgmt', 'String'] });
    const config = await load();
    expect(config.citrus.url).toBe('http://citrus');
    expect(config.source).toEqual({
      state: 'invalid',
      reason: expect.stringMatching(/source\/token is missing/),
    });
  });
});
