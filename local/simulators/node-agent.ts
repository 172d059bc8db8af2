// Node agent simulator (node agent API v1, docs/node-agent-api.md): an in-memory node holding
// schemas and monitored stores, with the same signature checks as a real agent and injectable
// faults.
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { BusinessType, Identifier } from '../../shared/contracts/messages.ts';
import { MAX_APPLY_IDS } from '../../shared/contracts/node-agent.ts';
import {
  SIGNATURE_HEADERS,
  type SigningKeys,
  verifyRequest,
} from '../../shared/contracts/signing.ts';
import { describeIssues } from '../../shared/contracts/zod.ts';
import { applyFaults, type Faults, handleFaultsAdmin, onFaultsChanged } from './faults.ts';
import {
  HttpError,
  listen,
  methodNotAllowed,
  parseJson,
  pathSegments,
  readBody,
  sendJson,
} from './http.ts';

export interface SchemaRecord {
  businessId: string;
  locationId: string;
  businessType: string;
}

export interface NodeAgentRequest {
  method: string;
  /** Path with query string, as signed. */
  path: string;
  /** The `X-Key-Id` the caller sent (verified when `status` is not 401). */
  keyId?: string;
  /** 0 when no answer was sent (timeout or down fault, or the client gave up). */
  status: number;
}

export interface NodeAgentSimulator {
  nodeId: string;
  url: string;
  port: number;
  state: {
    /** Keyed `businessId#locationId`. */
    schemas: Map<string, SchemaRecord>;
    stores: Set<string>;
  };
  /** The last MAX_RECORDED_REQUESTS `/v1` requests, oldest first. */
  requests: NodeAgentRequest[];
  faults(): Faults;
  setFaults(f: Faults): void;
  stop(): Promise<void>;
}

export interface NodeAgentOptions {
  nodeId: string;
  port?: number;
  signingKeys: SigningKeys;
  faults?: Faults;
  version?: string;
  /** Called whenever the faults change (setFaults or `POST /admin/faults`). */
  onFaultsChange?: (faults: Faults) => void;
}

export const MAX_RECORDED_REQUESTS = 10_000;

const SchemaSpec = z.object({
  businessId: Identifier,
  locationId: Identifier,
  businessType: BusinessType,
});
const SchemaRef = z.object({ businessId: Identifier, locationId: Identifier });
const PutSchemaBody = z.object({ businessType: BusinessType });
const SchemasApply = z.object({
  ensure: z.optional(z.array(SchemaSpec)),
  remove: z.optional(z.array(SchemaRef)),
});
const StoresApply = z.object({
  ensure: z.optional(z.array(Identifier)),
  remove: z.optional(z.array(Identifier)),
});

function validate<T>(schema: z.ZodMiniType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new HttpError(400, `invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function identifier(value: string | undefined, what: string): string {
  if (value === undefined || !Identifier.safeParse(value).success) {
    throw new HttpError(400, `invalid ${what}: must be 1..128 of [A-Za-z0-9._:-]`);
  }
  return value;
}

export const schemaKey = (businessId: string, locationId: string) => `${businessId}#${locationId}`;

export async function startNodeAgent(opts: NodeAgentOptions): Promise<NodeAgentSimulator> {
  const version = opts.version ?? '1.0.0-sim';
  const schemas = new Map<string, SchemaRecord>();
  const stores = new Set<string>();
  const requests: NodeAgentRequest[] = [];
  const delays = new Set<NodeJS.Timeout>();
  let faults: Faults = { ...opts.faults };

  // State operations, shared by the single-resource endpoints, :apply and /admin.
  const ensureSchema = (spec: SchemaRecord) => {
    const key = schemaKey(spec.businessId, spec.locationId);
    const existing = schemas.get(key);
    const record = {
      businessId: spec.businessId,
      locationId: spec.locationId,
      businessType: spec.businessType,
    };
    if (!existing) {
      schemas.set(key, record);
      return { status: 201, result: 'created' };
    }
    if (existing.businessType === spec.businessType) return { status: 200, result: 'unchanged' };
    // Not in the contract's vocabulary, but a changed type must not pass as "unchanged".
    schemas.set(key, record);
    return { status: 200, result: 'updated' };
  };
  const removeSchema = (businessId: string, locationId: string) =>
    schemas.delete(schemaKey(businessId, locationId))
      ? { status: 200, result: 'deleted' }
      : { status: 404, result: 'not_found' };
  const ensureStore = (id: string) => {
    if (stores.has(id)) return { status: 200, result: 'already_monitored' };
    stores.add(id);
    return { status: 201, result: 'monitoring_started' };
  };
  const removeStore = (id: string) =>
    stores.delete(id)
      ? { status: 200, result: 'monitoring_stopped' }
      : { status: 404, result: 'not_monitored' };

  const checkApplySize = (body: unknown) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'invalid apply request: body must be an object { ensure, remove }');
    }
    const { ensure, remove } = body as { ensure?: unknown; remove?: unknown };
    const count =
      (Array.isArray(ensure) ? ensure.length : 0) + (Array.isArray(remove) ? remove.length : 0);
    if (count > MAX_APPLY_IDS) {
      throw new HttpError(413, `at most ${MAX_APPLY_IDS} ids per apply request, got ${count}`);
    }
  };

  const schemaList = () =>
    [...schemas.values()].sort((a, b) =>
      schemaKey(a.businessId, a.locationId).localeCompare(schemaKey(b.businessId, b.locationId)),
    );
  const storeList = () => [...stores].sort();

  const setFaults = (f: Faults) => {
    faults = { ...f };
    onFaultsChanged(running.server, faults);
    opts.onFaultsChange?.({ ...faults });
  };

  async function handleV1(req: IncomingMessage, res: ServerResponse, pathname: string) {
    // Faults first: a down or overloaded node does not get as far as checking signatures.
    if (!(await applyFaults(() => faults, req, res, delays))) return;
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    // The signature covers the path exactly as sent, query string included, and the raw body.
    const verified = verifyRequest(opts.signingKeys, req.headers, method, req.url ?? '/', body);
    if (!verified.ok) {
      sendJson(res, 401, { error: `unauthorized: ${verified.reason}` });
      return;
    }

    if (pathname === '/v1/schemas:apply' || pathname === '/v1/stores:apply') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const json = parseJson(body);
      checkApplySize(json);
      const results: Array<{ id: string; result: string }> = [];
      if (pathname === '/v1/schemas:apply') {
        const { ensure = [], remove = [] } = validate(SchemasApply, json, 'schemas apply request');
        for (const s of ensure) {
          results.push({ id: `${s.businessId}/${s.locationId}`, result: ensureSchema(s).result });
        }
        for (const s of remove) {
          results.push({
            id: `${s.businessId}/${s.locationId}`,
            result: removeSchema(s.businessId, s.locationId).result,
          });
        }
      } else {
        const { ensure = [], remove = [] } = validate(StoresApply, json, 'stores apply request');
        for (const id of ensure) results.push({ id, result: ensureStore(id).result });
        for (const id of remove) results.push({ id, result: removeStore(id).result });
      }
      return sendJson(res, 200, { results });
    }

    const segments = pathSegments(pathname);
    const [, resource, ...rest] = segments;
    if (resource === 'health' && rest.length === 0) {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendJson(res, 200, { nodeId: opts.nodeId, status: 'ok', version });
    }
    if (resource === 'schemas') {
      if (rest.length === 0) {
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        return sendJson(res, 200, { schemas: schemaList() });
      }
      if (rest.length === 2) {
        const businessId = identifier(rest[0], 'businessId');
        const locationId = identifier(rest[1], 'locationId');
        if (method === 'PUT') {
          const { businessType } = validate(PutSchemaBody, parseJson(body), 'schema body');
          const r = ensureSchema({ businessId, locationId, businessType });
          return sendJson(res, r.status, { result: r.result });
        }
        if (method === 'DELETE') {
          const r = removeSchema(businessId, locationId);
          return sendJson(res, r.status, { result: r.result });
        }
        return methodNotAllowed(res, 'PUT, DELETE');
      }
    }
    if (resource === 'stores') {
      if (rest.length === 0) {
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        return sendJson(res, 200, { storeIds: storeList() });
      }
      if (rest.length === 1) {
        const storeId = identifier(rest[0], 'storeId');
        if (method === 'PUT') {
          const r = ensureStore(storeId);
          return sendJson(res, r.status, { result: r.result });
        }
        if (method === 'DELETE') {
          const r = removeStore(storeId);
          return sendJson(res, r.status, { result: r.result });
        }
        return methodNotAllowed(res, 'PUT, DELETE');
      }
    }
    sendJson(res, 404, { error: `no route for ${method} ${pathname}` });
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, pathname: string) {
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const [, what, ...rest] = pathSegments(pathname);
    if (what === 'state' && rest.length === 0 && method === 'GET') {
      return sendJson(res, 200, {
        nodeId: opts.nodeId,
        version,
        schemas: schemaList(),
        stores: storeList(),
        faults,
      });
    }
    if (what === 'faults' && rest.length === 0) {
      return handleFaultsAdmin(method, body, res, faults, setFaults);
    }
    // Plants resources behind the control plane's back (orphans for clean-up tests).
    if (what === 'stores' && rest.length === 1 && method === 'PUT') {
      const r = ensureStore(identifier(rest[0], 'storeId'));
      return sendJson(res, r.status, { result: r.result });
    }
    if (what === 'schemas' && rest.length === 2 && method === 'PUT') {
      const businessId = identifier(rest[0], 'businessId');
      const locationId = identifier(rest[1], 'locationId');
      const { businessType } = validate(PutSchemaBody, parseJson(body), 'schema body');
      const r = ensureSchema({ businessId, locationId, businessType });
      return sendJson(res, r.status, { result: r.result });
    }
    sendJson(res, 404, { error: `no route for ${method} ${pathname}` });
  }

  const record = (entry: NodeAgentRequest) => {
    requests.push(entry);
    if (requests.length > MAX_RECORDED_REQUESTS) {
      requests.splice(0, requests.length - MAX_RECORDED_REQUESTS);
    }
  };

  const running = await listen(opts.port ?? 0, async (req, res) => {
    const url = req.url ?? '/';
    const pathname = url.split('?', 1)[0] ?? '/';
    if (pathname === '/v1' || pathname.startsWith('/v1/')) {
      const header = req.headers[SIGNATURE_HEADERS.keyId];
      const keyId = Array.isArray(header) ? header[0] : header;
      res.on('close', () => {
        record({
          method: req.method ?? 'GET',
          path: url,
          ...(keyId ? { keyId } : {}),
          status: res.writableFinished ? res.statusCode : 0,
        });
      });
      return handleV1(req, res, pathname);
    }
    if (pathname.startsWith('/admin/')) return handleAdmin(req, res, pathname);
    sendJson(res, 404, { error: `no route for ${req.method} ${pathname}` });
  });

  return {
    nodeId: opts.nodeId,
    url: running.url,
    port: running.port,
    state: { schemas, stores },
    requests,
    faults: () => ({ ...faults }),
    setFaults,
    async stop() {
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      await running.stop();
    },
  };
}
