import { afterEach, describe, expect, it } from 'vitest';
import { defaultProvider } from '../../../infra/bundling/env-credentials.ts';

const saved = { ...process.env };
const setCredentials = (accessKeyId: string, expiration?: Date) => {
  process.env.AWS_ACCESS_KEY_ID = accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = `secret-of-${accessKeyId}`;
  if (expiration) process.env.AWS_CREDENTIAL_EXPIRATION = expiration.toISOString();
  else delete process.env.AWS_CREDENTIAL_EXPIRATION;
};

describe('the bundled credential provider (environment only)', () => {
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  it('reads the environment once, as the default chain it replaces does', async () => {
    setCredentials('first');
    const provider = defaultProvider();
    expect((await provider()).accessKeyId).toBe('first');
    setCredentials('second');
    expect((await provider()).accessKeyId).toBe('first');
    expect((await provider({ forceRefresh: true })).accessKeyId).toBe('second');
  });

  it('reads again credentials that expire within 5 minutes', async () => {
    setCredentials('expiring', new Date(Date.now() + 60_000));
    const provider = defaultProvider();
    expect((await provider()).accessKeyId).toBe('expiring');
    setCredentials('renewed', new Date(Date.now() + 3_600_000));
    expect((await provider()).accessKeyId).toBe('renewed');
    setCredentials('later');
    expect((await provider()).accessKeyId).toBe('renewed');
  });

  it('fails without credentials, and reads again on the next call', async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    const provider = defaultProvider();
    await expect(provider()).rejects.toThrow(/environment variable credentials/);
    setCredentials('arrived');
    expect((await provider()).accessKeyId).toBe('arrived');
  });
});
