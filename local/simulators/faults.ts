// Fault injection shared by the Citrus, node agent and management server simulators: latency,
// injected 503s and 429s, requests that never get an answer, and a node that is "down".
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { describeIssues } from '../../shared/contracts/zod.ts';
import { methodNotAllowed, parseJson, sendJson } from './http.ts';

export interface Faults {
  /** Delay before every answer. */
  latencyMs?: number;
  /** Extra random delay, uniform in [0, latencyJitterMs). */
  latencyJitterMs?: number;
  /** Share of requests (0..1) answered `503`. */
  errorRate?: number;
  /** Share of requests (0..1) that are never answered (the client's timeout must fire). */
  timeoutRate?: number;
  /** Share of requests (0..1) answered `429` with `Retry-After: retryAfterSeconds`. */
  rateLimitRate?: number;
  /** @default 1 */
  retryAfterSeconds?: number;
  /**
   * Behave like a dead host: open keep-alive sockets are closed and every faultable request's
   * socket is destroyed at once without an answer. The listener itself stays open so that
   * the `/admin` endpoints can bring the simulator back.
   */
  down?: boolean;
}

const rate = z.number().check(z.gte(0), z.lte(1));
const millis = z.number().check(z.gte(0), z.lte(600_000));

/** Validates a Faults body (admin endpoints); unknown keys are rejected to catch typos. */
export const FaultsSchema = z.strictObject({
  latencyMs: z.optional(millis),
  latencyJitterMs: z.optional(millis),
  errorRate: z.optional(rate),
  timeoutRate: z.optional(rate),
  rateLimitRate: z.optional(rate),
  retryAfterSeconds: z.optional(z.int().check(z.gte(0), z.lte(3600))),
  down: z.optional(z.boolean()),
});

export type FaultsParse = { ok: true; faults: Faults } | { ok: false; error: string };

export function parseFaults(input: unknown): FaultsParse {
  const parsed = FaultsSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error) };
  return { ok: true, faults: parsed.data };
}

/**
 * Reads `<PREFIX>_LATENCY_MS`, `<PREFIX>_LATENCY_JITTER_MS`, `<PREFIX>_ERROR_RATE`,
 * `<PREFIX>_TIMEOUT_RATE` and `<PREFIX>_DOWN`. Unset or empty variables are left out; a bad
 * value throws so that a typo in a CLI run fails loudly instead of silently injecting nothing.
 */
export function faultsFromEnv(
  prefix: 'CITRUS' | 'NODE' | 'SOURCE',
  env: Record<string, string | undefined> = process.env,
): Faults {
  const read = (suffix: string) => {
    const value = env[`${prefix}_${suffix}`]?.trim();
    return value ? { name: `${prefix}_${suffix}`, value } : undefined;
  };
  const numberOf = (suffix: string, max: number): number | undefined => {
    const v = read(suffix);
    if (!v) return undefined;
    const n = Number(v.value);
    if (!Number.isFinite(n) || n < 0 || n > max) {
      throw new Error(`${v.name} must be a number between 0 and ${max}`);
    }
    return n;
  };
  const faults: Faults = {};
  const latencyMs = numberOf('LATENCY_MS', 600_000);
  const latencyJitterMs = numberOf('LATENCY_JITTER_MS', 600_000);
  const errorRate = numberOf('ERROR_RATE', 1);
  const timeoutRate = numberOf('TIMEOUT_RATE', 1);
  if (latencyMs !== undefined) faults.latencyMs = latencyMs;
  if (latencyJitterMs !== undefined) faults.latencyJitterMs = latencyJitterMs;
  if (errorRate !== undefined) faults.errorRate = errorRate;
  if (timeoutRate !== undefined) faults.timeoutRate = timeoutRate;
  const down = read('DOWN');
  if (down) {
    if (!['true', 'false', '1', '0'].includes(down.value)) {
      throw new Error(`${down.name} must be true or false`);
    }
    faults.down = down.value === 'true' || down.value === '1';
  }
  return faults;
}

/**
 * Applies the faults to one request. Resolves `true` when the handler should answer it,
 * `false` when the fault already decided its fate (503 sent, socket destroyed, or held open).
 */
export async function applyFaults(
  getFaults: () => Faults,
  req: IncomingMessage,
  res: ServerResponse,
  delays: Set<NodeJS.Timeout>,
): Promise<boolean> {
  if (getFaults().down) {
    req.socket.destroy();
    return false;
  }
  const { timeoutRate = 0, latencyMs = 0, latencyJitterMs = 0 } = getFaults();
  // Held requests are never answered; stop() destroys their sockets.
  if (timeoutRate > 0 && Math.random() < timeoutRate) return false;
  const delay = latencyMs + (latencyJitterMs > 0 ? Math.random() * latencyJitterMs : 0);
  if (delay > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        delays.delete(timer);
        resolve();
      }, delay);
      delays.add(timer);
    });
    if (res.destroyed) return false;
  }
  // Re-read: the simulator may have gone down (or recovered) while this request waited.
  const now = getFaults();
  if (now.down) {
    req.socket.destroy();
    return false;
  }
  if ((now.errorRate ?? 0) > 0 && Math.random() < (now.errorRate ?? 0)) {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'service unavailable (injected fault)' }));
    return false;
  }
  if ((now.rateLimitRate ?? 0) > 0 && Math.random() < (now.rateLimitRate ?? 0)) {
    res.writeHead(429, {
      'content-type': 'application/json',
      'retry-after': String(now.retryAfterSeconds ?? 1),
    });
    res.end(JSON.stringify({ error: 'too many requests (injected fault)' }));
    return false;
  }
  return true;
}

/** Closes idle keep-alive sockets when a simulator goes down, so clients see resets at once. */
export function onFaultsChanged(server: Server, faults: Faults): void {
  if (faults.down) server.closeIdleConnections();
}

/**
 * `GET|POST /admin/faults` of a simulator. The reply goes out before the faults apply: going
 * down closes idle sockets, and this request must still get its answer.
 */
export function handleFaultsAdmin(
  method: string,
  body: string,
  res: ServerResponse,
  current: Faults,
  apply: (faults: Faults) => void,
): void {
  if (method === 'GET') {
    sendJson(res, 200, { faults: current });
    return;
  }
  if (method !== 'POST') {
    methodNotAllowed(res, 'GET, POST');
    return;
  }
  const parsed = parseFaults(parseJson(body));
  if (!parsed.ok) {
    sendJson(res, 400, { error: `invalid faults: ${parsed.error}` });
    return;
  }
  sendJson(res, 200, { faults: parsed.faults });
  apply(parsed.faults);
}
