import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  paginateGetParametersByPath,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SsmEmulator, startSsmEmulator } from '../../../local/emulators/ssm.ts';

let ssm: SsmEmulator;
let client: SSMClient;

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

beforeAll(async () => {
  ssm = await startSsmEmulator();
  client = new SSMClient({ endpoint: ssm.url, region: 'us-east-1', credentials });
});

afterAll(async () => {
  client.destroy();
  await ssm.stop();
});

const put = (
  Name: string,
  Value: string,
  Type: 'String' | 'SecureString' | 'StringList' = 'String',
) => client.send(new PutParameterCommand({ Name, Value, Type }));

describe('SSM emulator through @aws-sdk/client-ssm', () => {
  it('binds 127.0.0.1 on an ephemeral port', () => {
    expect(ssm.url).toBe(`http://127.0.0.1:${ssm.port}`);
    expect(ssm.port).toBeGreaterThan(0);
  });

  it('puts and gets a parameter with the AWS response fields', async () => {
    const before = Date.now();
    expect(await put('/t/get/plain', 'hello')).toMatchObject({ Version: 1, Tier: 'Standard' });
    const { Parameter } = await client.send(new GetParameterCommand({ Name: '/t/get/plain' }));
    expect(Parameter).toMatchObject({
      Name: '/t/get/plain',
      Type: 'String',
      Value: 'hello',
      Version: 1,
      ARN: 'arn:aws:ssm:us-east-1:000000000000:parameter/t/get/plain',
      DataType: 'text',
    });
    expect(Parameter?.LastModifiedDate).toBeInstanceOf(Date);
    expect(Parameter!.LastModifiedDate!.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it('answers ParameterNotFound for a missing name', async () => {
    await expect(
      client.send(new GetParameterCommand({ Name: '/t/missing' })),
    ).rejects.toMatchObject({ name: 'ParameterNotFound', $metadata: { httpStatusCode: 400 } });
  });

  it('refuses to overwrite without Overwrite and increments Version with it', async () => {
    await put('/t/put/x', 'v1');
    await expect(put('/t/put/x', 'v2')).rejects.toMatchObject({ name: 'ParameterAlreadyExists' });
    const res = await client.send(
      new PutParameterCommand({ Name: '/t/put/x', Value: 'v2', Overwrite: true }),
    );
    expect(res.Version).toBe(2);
    const { Parameter } = await client.send(new GetParameterCommand({ Name: '/t/put/x' }));
    expect(Parameter).toMatchObject({ Value: 'v2', Version: 2, Type: 'String' });
    expect(ssm.parameters.get('/t/put/x')).toMatchObject({ value: 'v2', version: 2 });
  });

  it('returns SecureString decrypted only WithDecryption', async () => {
    await put('/t/secure/key', 's3cr3t-value', 'SecureString');
    const plain = await client.send(new GetParameterCommand({ Name: '/t/secure/key' }));
    expect(plain.Parameter?.Type).toBe('SecureString');
    expect(plain.Parameter?.Value).not.toContain('s3cr3t');
    expect(plain.Parameter?.Value).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const dec = await client.send(
      new GetParameterCommand({ Name: '/t/secure/key', WithDecryption: true }),
    );
    expect(dec.Parameter?.Value).toBe('s3cr3t-value');
  });

  it('GetParameters splits found and InvalidParameters', async () => {
    await put('/t/multi/a', 'A');
    await put('/t/multi/b', 'B', 'StringList');
    const res = await client.send(
      new GetParametersCommand({ Names: ['/t/multi/a', '/t/multi/nope', '/t/multi/b'] }),
    );
    expect(res.Parameters?.map((p) => [p.Name, p.Value]).sort()).toEqual([
      ['/t/multi/a', 'A'],
      ['/t/multi/b', 'B'],
    ]);
    expect(res.InvalidParameters).toEqual(['/t/multi/nope']);
  });

  it('GetParametersByPath honours Recursive, MaxResults and NextToken paging', async () => {
    for (let i = 0; i < 13; i++) await put(`/t/path/p${String(i).padStart(2, '0')}`, `v${i}`);
    await put('/t/path/deep/one', 'deep');
    await put('/t/pathology', 'not under /t/path');

    const flat = await client.send(new GetParametersByPathCommand({ Path: '/t/path' }));
    expect(flat.Parameters).toHaveLength(10);
    expect(flat.NextToken).toBeDefined();
    const rest = await client.send(
      new GetParametersByPathCommand({ Path: '/t/path', NextToken: flat.NextToken }),
    );
    expect(rest.Parameters).toHaveLength(3);
    expect(rest.NextToken).toBeUndefined();

    const names: string[] = [];
    for await (const page of paginateGetParametersByPath(
      { client },
      { Path: '/t/path/', Recursive: true, MaxResults: 4 },
    )) {
      expect(page.Parameters!.length).toBeLessThanOrEqual(4);
      names.push(...page.Parameters!.map((p) => p.Name!));
    }
    expect(names).toHaveLength(14);
    expect(names).toContain('/t/path/deep/one');
    expect(names).not.toContain('/t/pathology');

    await expect(
      client.send(new GetParametersByPathCommand({ Path: '/t/path', MaxResults: 11 })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('GetParametersByPath decrypts SecureStrings only WithDecryption', async () => {
    await put('/t/bypath/secret', 'hidden', 'SecureString');
    const enc = await client.send(new GetParametersByPathCommand({ Path: '/t/bypath' }));
    expect(enc.Parameters?.[0]?.Value).not.toBe('hidden');
    const dec = await client.send(
      new GetParametersByPathCommand({ Path: '/t/bypath', WithDecryption: true }),
    );
    expect(dec.Parameters?.[0]?.Value).toBe('hidden');
  });

  it('DeleteParameter removes, then answers ParameterNotFound', async () => {
    await put('/t/del/x', 'x');
    await client.send(new DeleteParameterCommand({ Name: '/t/del/x' }));
    await expect(client.send(new GetParameterCommand({ Name: '/t/del/x' }))).rejects.toMatchObject({
      name: 'ParameterNotFound',
    });
    await expect(
      client.send(new DeleteParameterCommand({ Name: '/t/del/x' })),
    ).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });
});

describe('SSM emulator through Powertools Parameters', () => {
  it('get, getMultiple and getParametersByName read what was preloaded', async () => {
    const now = new Date();
    ssm.parameters.set('/pt/local/citrus/url', {
      value: 'http://127.0.0.1:8080',
      type: 'String',
      version: 1,
      lastModified: now,
    });
    ssm.parameters.set('/pt/local/citrus/api-key', {
      value: 'local-citrus-api-key',
      type: 'SecureString',
      version: 1,
      lastModified: now,
    });
    const provider = new SSMProvider({
      awsSdkV3Client: new SSMClient({ endpoint: ssm.url, region: 'us-east-1', credentials }),
    });

    expect(await provider.get('/pt/local/citrus/url')).toBe('http://127.0.0.1:8080');
    expect(await provider.get('/pt/local/citrus/api-key', { decrypt: true })).toBe(
      'local-citrus-api-key',
    );
    expect(await provider.getMultiple('/pt/local', { recursive: true, decrypt: true })).toEqual({
      'citrus/url': 'http://127.0.0.1:8080',
      'citrus/api-key': 'local-citrus-api-key',
    });

    const byName = await provider.getParametersByName(
      {
        '/pt/local/citrus/url': {},
        '/pt/local/citrus/api-key': { decrypt: true },
      },
      { maxAge: 0 },
    );
    expect(byName).toEqual({
      '/pt/local/citrus/url': 'http://127.0.0.1:8080',
      '/pt/local/citrus/api-key': 'local-citrus-api-key',
    });

    const partial = await provider.getParametersByName<string>(
      { '/pt/local/citrus/url': {}, '/pt/local/absent': {} },
      { throwOnError: false, maxAge: 0 },
    );
    expect(partial).toEqual({
      '/pt/local/citrus/url': 'http://127.0.0.1:8080',
      _errors: ['/pt/local/absent'],
    });
  });
});
