// Citrus sharding service simulator (register, shard details, shard health, as the README's
// "What it does" describes them): deterministic, idempotent placement, shard details with a
// fake connection string, paginated health, plus an /admin API to change the topology at run
// time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { BusinessType, Identifier } from '../../shared/contracts/messages.ts';
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

export interface CitrusNodeSpec {
  nodeId: string;
  endpoint: string;
}

export interface CitrusShardSpec {
  shardId: string;
  role: string;
  nodes: CitrusNodeSpec[];
}

export interface CitrusSimulator {
  url: string;
  port: number;
  /** POST /api/register calls that got past faults and auth (whatever their answer). */
  registrations: number;
  /** Valid POST /api/register calls per location (`businessId#locationId`): duplicate work. */
  registrationsByLocation: Map<string, number>;
  /** Every /api request received (benchmarks count calls per message). */
  requests: number;
  faults(): Faults;
  setFaults(f: Faults): void;
  /** Adds a node to a known shard (replaces the endpoint of a known node id). */
  addNode(shardId: string, node: CitrusNodeSpec): void;
  removeNode(shardId: string, nodeId: string): void;
  setNodeHealthy(nodeId: string, healthy: boolean): void;
  stop(): Promise<void>;
}

export interface CitrusOptions {
  port?: number;
  apiKey: string;
  shards: CitrusShardSpec[];
  faults?: Faults;
  /** Password inside the fake connection strings (default: a fixed local value). */
  connectionStringSecret?: string;
}

export const HEALTH_PAGE_DEFAULT = 100;
export const HEALTH_PAGE_MAX = 500;

/** Roles that host business locations; others (e.g. analytics) are never chosen by register. */
const PLACEMENT_ROLE = 'database';

const RegisterBody = z.object({
  businessId: Identifier,
  locationId: Identifier,
  businessType: BusinessType,
});
const NodeBody = z.object({ nodeId: Identifier, endpoint: z.url() });

interface Shard {
  shardId: string;
  role: string;
  nodes: Map<string, string>;
}

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1]) throw new HttpError(400, 'invalid cursor');
  return Number(match[1]);
}

function parseLimit(raw: string | null): number {
  if (raw === null) return HEALTH_PAGE_DEFAULT;
  if (!/^\d{1,4}$/.test(raw)) throw new HttpError(400, 'limit must be an integer 1..500');
  const limit = Number(raw);
  if (limit < 1 || limit > HEALTH_PAGE_MAX) {
    throw new HttpError(400, 'limit must be an integer 1..500');
  }
  return limit;
}

export async function startCitrus(opts: CitrusOptions): Promise<CitrusSimulator> {
  const shards = new Map<string, Shard>();
  for (const s of opts.shards) {
    if (shards.has(s.shardId)) throw new Error(`duplicate shard ${s.shardId}`);
    shards.set(s.shardId, {
      shardId: s.shardId,
      role: s.role,
      nodes: new Map(s.nodes.map((n) => [n.nodeId, n.endpoint])),
    });
  }
  const unhealthy = new Set<string>();
  /** location (`businessId#locationId`) -> assignment, and shardKey -> shardId. */
  const assignments = new Map<string, { shardKey: string; shardId: string }>();
  const shardOfKey = new Map<string, string>();
  const delays = new Set<NodeJS.Timeout>();
  const secret = opts.connectionStringSecret ?? 'local-citrus-db-secret';
  const expectedAuth = Buffer.from(`Bearer ${opts.apiKey}`);
  let faults: Faults = { ...opts.faults };

  const sim: CitrusSimulator = {
    url: '',
    port: 0,
    registrations: 0,
    registrationsByLocation: new Map(),
    requests: 0,
    faults: () => ({ ...faults }),
    setFaults(f) {
      faults = { ...f };
      onFaultsChanged(running.server, faults);
    },
    addNode(shardId, node) {
      const shard = shards.get(shardId);
      if (!shard) throw new Error(`unknown shard ${shardId}`);
      shard.nodes.set(node.nodeId, node.endpoint);
    },
    removeNode(shardId, nodeId) {
      shards.get(shardId)?.nodes.delete(nodeId);
    },
    setNodeHealthy(nodeId, healthy) {
      if (healthy) unhealthy.delete(nodeId);
      else unhealthy.add(nodeId);
    },
    async stop() {
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      await running.stop();
    },
  };

  const nodesOf = (shard: Shard) =>
    [...shard.nodes].map(([nodeId, endpoint]) => ({ nodeId, endpoint }));
  const healthOf = (shard: Shard) => {
    const nodes = nodesOf(shard).map((n) => ({ ...n, healthy: !unhealthy.has(n.nodeId) }));
    const up = nodes.filter((n) => n.healthy).length;
    const status = up === 0 ? 'down' : up === nodes.length ? 'healthy' : 'degraded';
    return { shardId: shard.shardId, role: shard.role, status, nodes };
  };

  /**
   * Deterministic placement: a hash of the location picks the shard among the placement
   * shards, and the answer is remembered, so later topology changes never move a location.
   */
  const place = (businessId: string, locationId: string) => {
    const location = `${businessId}#${locationId}`;
    const known = assignments.get(location);
    if (known) return known;
    const all = [...shards.values()];
    const candidates = all.some((s) => s.role === PLACEMENT_ROLE)
      ? all.filter((s) => s.role === PLACEMENT_ROLE)
      : all;
    if (candidates.length === 0) return undefined;
    const digest = createHash('sha256').update(location).digest();
    const shard = candidates[digest.readUInt32BE(0) % candidates.length]!;
    const assignment = { shardKey: `sk-${digest.toString('hex', 4, 16)}`, shardId: shard.shardId };
    assignments.set(location, assignment);
    shardOfKey.set(assignment.shardKey, shard.shardId);
    return assignment;
  };

  const authorized = (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth);
  };

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL) {
    sim.requests += 1;
    if (!(await applyFaults(() => faults, req, res, delays))) return;
    const body = await readBody(req);
    if (!authorized(req)) {
      // Never echo what was sent: it may be a (wrong) real key.
      return sendJson(
        res,
        401,
        { error: 'missing or invalid bearer token' },
        { 'www-authenticate': 'Bearer' },
      );
    }
    const method = req.method ?? 'GET';
    const [, resource, ...rest] = pathSegments(url.pathname);
    if (resource === 'register' && rest.length === 0) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      sim.registrations += 1;
      const parsed = RegisterBody.safeParse(parseJson(body));
      if (!parsed.success) {
        return sendJson(res, 400, {
          error: `invalid register body: ${describeIssues(parsed.error)}`,
        });
      }
      const location = `${parsed.data.businessId}#${parsed.data.locationId}`;
      sim.registrationsByLocation.set(
        location,
        (sim.registrationsByLocation.get(location) ?? 0) + 1,
      );
      const assignment = place(parsed.data.businessId, parsed.data.locationId);
      if (!assignment) return sendJson(res, 503, { error: 'no shards available for placement' });
      return sendJson(res, 200, assignment);
    }
    if (resource === 'shard' && rest.length === 1) {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const shardKey = rest[0]!;
      const shard = shards.get(shardOfKey.get(shardKey) ?? '');
      if (!shard) return sendJson(res, 404, { error: 'unknown shard key' });
      const port = 5432;
      return sendJson(res, 200, {
        shardKey,
        shardId: shard.shardId,
        role: shard.role,
        connectionString: `postgres://citrus:${secret}@${shard.shardId}.citrus.local:${port}/${shardKey}`,
        nodes: nodesOf(shard),
      });
    }
    if (resource === 'shards' && rest.length === 1 && rest[0] === 'health') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const limit = parseLimit(url.searchParams.get('limit'));
      const cursor = url.searchParams.get('cursor');
      const offset = cursor ? decodeCursor(cursor) : 0;
      const all = [...shards.values()];
      const page = all.slice(offset, offset + limit).map(healthOf);
      const next = offset + limit;
      return sendJson(res, 200, {
        shards: page,
        ...(next < all.length ? { nextCursor: encodeCursor(next) } : {}),
      });
    }
    sendJson(res, 404, { error: `no route for ${method} ${url.pathname}` });
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL) {
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const [, what, ...rest] = pathSegments(url.pathname);
    if (what === 'state' && rest.length === 0 && method === 'GET') {
      return sendJson(res, 200, {
        shards: [...shards.values()].map(healthOf),
        nodes: [...shards.values()].reduce((n, s) => n + s.nodes.size, 0),
        assignments: assignments.size,
        registrations: sim.registrations,
        faults,
      });
    }
    if (what === 'faults' && rest.length === 0) {
      return handleFaultsAdmin(method, body, res, faults, (f) => sim.setFaults(f));
    }
    if (what === 'shards' && rest[1] === 'nodes') {
      const shard = shards.get(rest[0] ?? '');
      if (!shard) return sendJson(res, 404, { error: 'unknown shard' });
      if (rest.length === 2 && method === 'POST') {
        const parsed = NodeBody.safeParse(parseJson(body));
        if (!parsed.success) {
          return sendJson(res, 400, { error: `invalid node: ${describeIssues(parsed.error)}` });
        }
        const created = !shard.nodes.has(parsed.data.nodeId);
        sim.addNode(shard.shardId, parsed.data);
        return sendJson(res, created ? 201 : 200, healthOf(shard));
      }
      if (rest.length === 3 && method === 'DELETE') {
        const nodeId = rest[2]!;
        if (!shard.nodes.has(nodeId)) return sendJson(res, 404, { error: 'unknown node' });
        sim.removeNode(shard.shardId, nodeId);
        return sendJson(res, 200, healthOf(shard));
      }
    }
    sendJson(res, 404, { error: `no route for ${method} ${url.pathname}` });
  }

  const running = await listen(opts.port ?? 0, async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://citrus.local');
    if (url.pathname.startsWith('/api/')) return handleApi(req, res, url);
    if (url.pathname.startsWith('/admin/')) return handleAdmin(req, res, url);
    sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
  });
  sim.url = running.url;
  sim.port = running.port;
  return sim;
}
