// Management server simulator: the source of truth's read-only listing API over businesses'
// locations and workspaces held in memory, with the bearer token check, injectable faults, and
// an /admin API through which the local stack records what the management server commits.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { BusinessType, Identifier, Timestamp } from '../../shared/contracts/messages.ts';
import {
  SOURCE_PAGE_DEFAULT,
  SOURCE_PAGE_MAX,
  SOURCE_PAGE_MIN,
  SOURCE_PATHS,
  SOURCE_WORKSPACE_STATUSES,
  type SourceLocation,
  type SourceWorkspace,
} from '../../shared/contracts/source.ts';
import { describeIssues } from '../../shared/contracts/zod.ts';
import { LOCAL } from '../defaults.ts';
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

export const DEFAULT_SOURCE_TOKEN = LOCAL.sourceToken;
/** Cursors outlive the ten minutes the listing API promises, by a margin. */
export const DEFAULT_CURSOR_TTL_MS = 30 * 60_000;
export const MAX_RECORDED_REQUESTS = 10_000;

export interface LocationInput {
  businessId: string;
  locationId: string;
  businessType: string;
  /** @default the simulator's clock */
  updatedAt?: string;
}

export interface WorkspaceInput {
  workspaceId: string;
  userId: string;
  businessId: string;
  locationId: string;
  status: SourceWorkspace['status'];
  /** The occurredAt of the lifecycle event that made this state. @default the simulator's clock */
  updatedAt?: string;
}

export interface SourceRequest {
  method: string;
  /** Path with query string. */
  path: string;
  /** 0 when no answer was sent (timeout or down fault, or the client gave up). */
  status: number;
}

export interface ManagementServerSimulator {
  url: string;
  port: number;
  /** Upserts a location (locations are never deleted). */
  recordLocation(location: LocationInput): SourceLocation;
  /** Upserts a workspace's state; a deleted one stays listed to incremental listings. */
  recordWorkspace(workspace: WorkspaceInput): SourceWorkspace;
  locations(): SourceLocation[];
  workspaces(): SourceWorkspace[];
  /** The last MAX_RECORDED_REQUESTS listing requests, oldest first. */
  requests: SourceRequest[];
  faults(): Faults;
  setFaults(f: Faults): void;
  /**
   * A broken source: every listing answers 200 with no items. Source reconciliation must
   * never turn that into deletions.
   */
  setEmptyListings(empty: boolean): void;
  stop(): Promise<void>;
}

export interface ManagementServerOptions {
  port?: number;
  /** @default DEFAULT_SOURCE_TOKEN */
  token?: string;
  faults?: Faults;
  locations?: LocationInput[];
  workspaces?: WorkspaceInput[];
  /** The source's clock, epoch ms (tests pin it). @default Date.now */
  now?: () => number;
  /** @default DEFAULT_CURSOR_TTL_MS */
  cursorTtlMs?: number;
}

const LocationBody = z.strictObject({
  businessId: Identifier,
  locationId: Identifier,
  businessType: BusinessType,
  updatedAt: z.optional(Timestamp),
});

const WorkspaceBody = z.strictObject({
  workspaceId: Identifier,
  userId: Identifier,
  businessId: Identifier,
  locationId: Identifier,
  status: z.enum(SOURCE_WORKSPACE_STATUSES),
  updatedAt: z.optional(Timestamp),
});

const EmptyListingsBody = z.strictObject({ enabled: z.boolean() });

type Kind = keyof typeof SOURCE_PATHS;

/** What a cursor carries: enough to continue the same listing statelessly. */
const CursorState = z.object({
  kind: z.enum(['locations', 'workspaces']),
  asOf: z.string(),
  updatedSince: z.nullable(z.string()),
  after: z.string(),
  issuedAt: z.number(),
});
type CursorState = z.infer<typeof CursorState>;

const encodeCursor = (state: CursorState) =>
  Buffer.from(JSON.stringify(state)).toString('base64url');

function decodeCursor(cursor: string): CursorState {
  try {
    return CursorState.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new HttpError(400, 'invalid cursor');
  }
}

function parseLimit(raw: string | null): number {
  if (raw === null) return SOURCE_PAGE_DEFAULT;
  const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(limit >= SOURCE_PAGE_MIN && limit <= SOURCE_PAGE_MAX)) {
    throw new HttpError(400, `limit must be an integer ${SOURCE_PAGE_MIN}..${SOURCE_PAGE_MAX}`);
  }
  return limit;
}

function parseUpdatedSince(raw: string | null): string | null {
  if (raw === null) return null;
  if (!z.iso.datetime({ offset: true }).safeParse(raw).success) {
    throw new HttpError(400, 'updatedSince must be an ISO-8601 timestamp');
  }
  return raw;
}

function validate<S extends z.ZodMiniType>(schema: S, input: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new HttpError(400, `invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

const locationKey = (l: { businessId: string; locationId: string }) =>
  `${l.businessId}#${l.locationId}`;

export async function startManagementServer(
  opts: ManagementServerOptions = {},
): Promise<ManagementServerSimulator> {
  const now = opts.now ?? Date.now;
  const cursorTtlMs = opts.cursorTtlMs ?? DEFAULT_CURSOR_TTL_MS;
  const expectedAuth = Buffer.from(`Bearer ${opts.token ?? DEFAULT_SOURCE_TOKEN}`);
  const locations = new Map<string, SourceLocation>();
  const workspaces = new Map<string, SourceWorkspace>();
  const requests: SourceRequest[] = [];
  const delays = new Set<NodeJS.Timeout>();
  let faults: Faults = { ...opts.faults };
  let emptyListings = false;

  const clock = () => new Date(now()).toISOString();

  const recordLocation = (input: LocationInput): SourceLocation => {
    const parsed = LocationBody.safeParse(input);
    if (!parsed.success) throw new Error(`invalid location: ${describeIssues(parsed.error)}`);
    const location = { ...parsed.data, updatedAt: parsed.data.updatedAt ?? clock() };
    locations.set(locationKey(location), location);
    return { ...location };
  };
  const recordWorkspace = (input: WorkspaceInput): SourceWorkspace => {
    const parsed = WorkspaceBody.safeParse(input);
    if (!parsed.success) throw new Error(`invalid workspace: ${describeIssues(parsed.error)}`);
    const workspace = { ...parsed.data, updatedAt: parsed.data.updatedAt ?? clock() };
    workspaces.set(workspace.workspaceId, workspace);
    return { ...workspace };
  };
  for (const location of opts.locations ?? []) recordLocation(location);
  for (const workspace of opts.workspaces ?? []) recordWorkspace(workspace);

  const sim: ManagementServerSimulator = {
    url: '',
    port: 0,
    recordLocation,
    recordWorkspace,
    locations: () => [...locations.values()].map((l) => ({ ...l })),
    workspaces: () => [...workspaces.values()].map((w) => ({ ...w })),
    requests,
    faults: () => ({ ...faults }),
    setFaults(f) {
      faults = { ...f };
      onFaultsChanged(running.server, faults);
    },
    setEmptyListings(empty) {
      emptyListings = empty;
    },
    async stop() {
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      await running.stop();
    },
  };

  const authorized = (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth);
  };

  /**
   * One page of a listing. Items are walked in a fixed key order and the cursor remembers the
   * last key served, so an item that exists for the whole listing is served exactly once,
   * whatever is recorded meanwhile, and a cursor needs no server-side state.
   */
  const page = (kind: Kind, url: URL) => {
    const limit = parseLimit(url.searchParams.get('limit'));
    const updatedSinceParam = parseUpdatedSince(url.searchParams.get('updatedSince'));
    const rawCursor = url.searchParams.get('cursor');
    let state: CursorState;
    if (rawCursor) {
      state = decodeCursor(rawCursor);
      if (state.kind !== kind) throw new HttpError(400, 'cursor belongs to another listing');
      if (updatedSinceParam !== null && updatedSinceParam !== state.updatedSince) {
        throw new HttpError(400, 'cursor belongs to a listing with another updatedSince');
      }
      if (now() - state.issuedAt > cursorTtlMs) throw new HttpError(400, 'cursor expired');
    } else {
      state = { kind, asOf: clock(), updatedSince: updatedSinceParam, after: '', issuedAt: 0 };
    }
    const since = state.updatedSince === null ? undefined : Date.parse(state.updatedSince);
    const keyed: [string, SourceLocation | SourceWorkspace][] =
      kind === 'locations'
        ? [...locations].filter(([, l]) => since === undefined || Date.parse(l.updatedAt) >= since)
        : [...workspaces].filter(([, w]) =>
            since === undefined ? w.status === 'active' : Date.parse(w.updatedAt) >= since,
          );
    const remaining = emptyListings
      ? []
      : keyed.filter(([key]) => key > state.after).sort(([a], [b]) => (a < b ? -1 : 1));
    const served = remaining.slice(0, limit);
    const last = served.at(-1)?.[0];
    const more = remaining.length > limit && last !== undefined;
    return {
      [kind]: served.map(([, item]) => ({ ...item })),
      asOf: state.asOf,
      ...(more ? { nextCursor: encodeCursor({ ...state, after: last, issuedAt: now() }) } : {}),
    };
  };

  async function handleListing(req: IncomingMessage, res: ServerResponse, url: URL, kind: Kind) {
    if (!(await applyFaults(() => faults, req, res, delays))) return;
    await readBody(req);
    if (!authorized(req)) {
      // Never echo what was sent: it may be a (wrong) real token.
      return sendJson(
        res,
        401,
        { error: 'missing or invalid bearer token' },
        { 'www-authenticate': 'Bearer' },
      );
    }
    if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
    sendJson(res, 200, page(kind, url));
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL) {
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const [, what, ...rest] = pathSegments(url.pathname);
    if (rest.length > 0)
      return sendJson(res, 404, { error: `no route for ${method} ${url.pathname}` });
    if (what === 'state') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const all = [...workspaces.values()];
      return sendJson(res, 200, {
        locations: locations.size,
        workspaces: {
          active: all.filter((w) => w.status === 'active').length,
          deleted: all.filter((w) => w.status === 'deleted').length,
        },
        requests: requests.length,
        emptyListings,
        faults,
      });
    }
    if (what === 'faults') {
      return handleFaultsAdmin(method, body, res, faults, (f) => sim.setFaults(f));
    }
    if (what === 'empty-listings') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const { enabled } = validate(EmptyListingsBody, parseJson(body), 'empty-listings body');
      sim.setEmptyListings(enabled);
      return sendJson(res, 200, { emptyListings: enabled });
    }
    if (what === 'locations' || what === 'workspaces') {
      if (method === 'GET') {
        return sendJson(res, 200, {
          [what]: what === 'locations' ? sim.locations() : sim.workspaces(),
        });
      }
      if (method !== 'POST') return methodNotAllowed(res, 'GET, POST');
      // One record or an array of them, so that a scenario can be loaded in one request.
      const input = parseJson(body);
      const items = Array.isArray(input) ? input : [input];
      const recorded =
        what === 'locations'
          ? items
              .map((item, i) => validate(LocationBody, item, `location ${i}`))
              .map(recordLocation)
          : items
              .map((item, i) => validate(WorkspaceBody, item, `workspace ${i}`))
              .map(recordWorkspace);
      return sendJson(res, 200, { [what]: recorded });
    }
    sendJson(res, 404, { error: `no route for ${method} ${url.pathname}` });
  }

  const record = (entry: SourceRequest) => {
    requests.push(entry);
    if (requests.length > MAX_RECORDED_REQUESTS) {
      requests.splice(0, requests.length - MAX_RECORDED_REQUESTS);
    }
  };

  const running = await listen(opts.port ?? 0, async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://management.local');
    const kind = (Object.keys(SOURCE_PATHS) as Kind[]).find(
      (k) => SOURCE_PATHS[k] === url.pathname,
    );
    if (kind) {
      res.on('close', () => {
        record({
          method: req.method ?? 'GET',
          path: `${url.pathname}${url.search}`,
          status: res.writableFinished ? res.statusCode : 0,
        });
      });
      return handleListing(req, res, url, kind);
    }
    if (url.pathname.startsWith('/admin/')) return handleAdmin(req, res, url);
    sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
  });
  sim.url = running.url;
  sim.port = running.port;
  return sim;
}
