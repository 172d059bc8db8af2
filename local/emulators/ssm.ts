// SSM Parameter Store emulator: the subset of the AWS JSON 1.1 protocol the functions and
// Powertools Parameters use. No npm package emulates it, so it lives here.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL } from '../defaults.ts';

export type ParameterType = 'String' | 'SecureString' | 'StringList';

export interface StoredParameter {
  value: string;
  type: ParameterType;
  version: number;
  lastModified: Date;
}

export interface SsmEmulator {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Live store, keyed by full name (`/shard-control/local/...`): tests and the local stack may preload it. */
  parameters: Map<string, StoredParameter>;
}

const TYPES: readonly ParameterType[] = ['String', 'SecureString', 'StringList'];
const MAX_PAGE = 10;

class SsmError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;

export async function startSsmEmulator(opts: { port?: number } = {}): Promise<SsmEmulator> {
  const parameters = new Map<string, StoredParameter>();
  // Per-instance key so SecureString values look like ciphertext and never leak the plaintext.
  const kmsKey = randomBytes(32);

  const arnOf = (name: string) =>
    `arn:aws:ssm:${LOCAL.region}:${LOCAL.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`;

  const render = (name: string, p: StoredParameter, decrypt: boolean) => ({
    Name: name,
    Type: p.type,
    Value: p.type === 'SecureString' && !decrypt ? ciphertext(name, p) : p.value,
    Version: p.version,
    LastModifiedDate: p.lastModified.getTime() / 1000,
    ARN: arnOf(name),
    DataType: 'text',
  });

  // AWS returns a base64 KMS blob for undecrypted SecureStrings; mimic its shape.
  const ciphertext = (name: string, p: StoredParameter) => {
    const mac = createHmac('sha256', kmsKey).update(`${name}\0${p.version}\0${p.value}`).digest();
    return Buffer.concat([Buffer.from('0102020078', 'hex'), mac, mac.subarray(0, 16)]).toString(
      'base64',
    );
  };

  // Accepts a plain name, an ARN, or `name:version` (only the current version is kept).
  const lookup = (raw: string): [string, StoredParameter] => {
    let name = raw.startsWith('arn:')
      ? raw.replace(/^arn:[^:]+:ssm:[^:]*:[^:]*:parameter/, '')
      : raw;
    let version: number | undefined;
    const selector = /^(.*):(\d+)$/.exec(name);
    if (selector) {
      name = selector[1]!;
      version = Number(selector[2]);
    }
    // ARNs of non-hierarchical names carry a '/' that is not part of the name.
    if (raw.startsWith('arn:') && !parameters.has(name) && parameters.has(name.slice(1))) {
      name = name.slice(1);
    }
    const p = parameters.get(name);
    if (!p) throw new SsmError('ParameterNotFound', `Parameter ${raw} not found.`);
    if (version !== undefined && version !== p.version) {
      throw new SsmError(
        'ParameterVersionNotFound',
        `Systems Manager could not find version ${version} of ${name}. Verify the version and try again.`,
      );
    }
    return [name, p];
  };

  const ops: Record<string, (b: Body) => unknown> = {
    GetParameter(b) {
      const [name, p] = lookup(requireString(b, 'Name'));
      return { Parameter: render(name, p, b.WithDecryption === true) };
    },
    GetParameters(b) {
      const names = b.Names;
      if (!Array.isArray(names) || names.length === 0 || names.length > 10) {
        throw new SsmError(
          'ValidationException',
          `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10`,
        );
      }
      const found: unknown[] = [];
      const invalid: string[] = [];
      for (const raw of new Set(names.map(String))) {
        try {
          const [name, p] = lookup(raw);
          found.push(render(name, p, b.WithDecryption === true));
        } catch (err) {
          if (!(err instanceof SsmError)) throw err;
          invalid.push(raw);
        }
      }
      return { Parameters: found, InvalidParameters: invalid };
    },
    GetParametersByPath(b) {
      const path = requireString(b, 'Path');
      if (!path.startsWith('/')) {
        throw new SsmError(
          'ValidationException',
          'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".',
        );
      }
      const max = b.MaxResults === undefined ? MAX_PAGE : Number(b.MaxResults);
      if (!Number.isInteger(max) || max < 1 || max > MAX_PAGE) {
        throw new SsmError(
          'ValidationException',
          `1 validation error detected: Value '${String(b.MaxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10`,
        );
      }
      const prefix = path.endsWith('/') ? path : `${path}/`;
      const matching = [...parameters.keys()]
        .filter((n) => n.startsWith(prefix) && n.length > prefix.length)
        .filter((n) => b.Recursive === true || !n.slice(prefix.length).includes('/'))
        .sort();
      // The token is the last name returned: stable even if parameters change between pages.
      let start = 0;
      if (typeof b.NextToken === 'string' && b.NextToken !== '') {
        const after = decodeToken(b.NextToken);
        start = matching.findIndex((n) => n > after);
        if (start === -1) start = matching.length;
      }
      const page = matching.slice(start, start + max);
      const more = start + max < matching.length;
      return {
        Parameters: page.map((n) => render(n, parameters.get(n)!, b.WithDecryption === true)),
        ...(more ? { NextToken: encodeToken(page.at(-1)!) } : {}),
      };
    },
    PutParameter(b) {
      const name = requireString(b, 'Name');
      const value = b.Value;
      if (typeof value !== 'string' || value.length === 0) {
        throw new SsmError(
          'ValidationException',
          `1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1`,
        );
      }
      if (name.includes('/') && !name.startsWith('/')) {
        throw new SsmError('ValidationException', 'Parameter name must be a fully qualified name.');
      }
      const existing = parameters.get(name);
      if (existing && b.Overwrite !== true) {
        throw new SsmError(
          'ParameterAlreadyExists',
          'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
        );
      }
      const type = (b.Type ?? existing?.type) as ParameterType | undefined;
      if (!type || !TYPES.includes(type)) {
        throw new SsmError(
          'ValidationException',
          type
            ? `1 validation error detected: Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]`
            : 'A parameter type is required when you create a parameter.',
        );
      }
      const version = (existing?.version ?? 0) + 1;
      parameters.set(name, { value, type, version, lastModified: new Date() });
      return { Version: version, Tier: 'Standard' };
    },
    DeleteParameter(b) {
      const name = requireString(b, 'Name');
      if (!parameters.delete(name)) {
        throw new SsmError('ParameterNotFound', `Parameter ${name} not found.`);
      }
      return {};
    },
  };

  const server = createServer((req, res) => {
    handle(req, res, ops).catch((err: unknown) => {
      send(res, 500, { __type: 'InternalServerError', message: String(err) });
    });
  });
  // Keep-alive sockets would otherwise hold stop() open until the client lets go.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    parameters,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  ops: Record<string, (b: Body) => unknown>,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const target = String(req.headers['x-amz-target'] ?? '');
  const [service, op] = target.split('.');
  const fn = service === 'AmazonSSM' && op ? ops[op] : undefined;
  if (req.method !== 'POST' || !fn) {
    send(res, 400, { __type: 'UnknownOperationException', message: `Unknown operation ${target}` });
    return;
  }
  let body: Body;
  try {
    const text = Buffer.concat(chunks).toString('utf8');
    body = text ? (JSON.parse(text) as Body) : {};
  } catch {
    send(res, 400, { __type: 'SerializationException', message: 'Malformed JSON body' });
    return;
  }
  try {
    send(res, 200, fn(body));
  } catch (err) {
    if (!(err instanceof SsmError)) throw err;
    send(res, 400, { __type: err.type, message: err.message });
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomBytes(16).toString('hex'),
  });
  res.end(text);
}

function requireString(b: Body, field: string): string {
  const v = b[field];
  if (typeof v !== 'string' || v === '') {
    throw new SsmError(
      'ValidationException',
      `1 validation error detected: Value null at '${field.charAt(0).toLowerCase()}${field.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

const encodeToken = (name: string) =>
  Buffer.from(JSON.stringify({ after: name })).toString('base64');

function decodeToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through to the AWS error below
  }
  throw new SsmError('ValidationException', 'The nextToken is not valid.');
}
