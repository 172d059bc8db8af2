// What the management server does before it sends an event: commit it, so its listing API
// shows it. The demo and `npm run send` record every event at the management server
// (simulator) first, then send it, or, with SOURCE_DROP_RATE, skip sending a share of them:
// the lost events source reconciliation repairs.
import { sendJson } from '../../shared/adapters/http.ts';
import type { Message } from '../../shared/contracts/messages.ts';
import { LOCAL } from '../defaults.ts';

/** The management server simulator's base URL (its /admin API records events). */
export const sourceServerUrl = (env: NodeJS.ProcessEnv = process.env) =>
  env.SOURCE_SERVER_URL || `http://127.0.0.1:${env.SOURCE_PORT || LOCAL.ports.source}`;

/** Records the state an event leaves behind at the management server (shard.converge: none). */
export async function recordAtSource(baseUrl: string, message: Message): Promise<void> {
  let path: string;
  let body: Record<string, unknown>;
  if (message.type === 'shard.create') {
    path = '/admin/locations';
    body = { ...message.data, updatedAt: message.occurredAt };
  } else if (message.type === 'workspace.created' || message.type === 'workspace.deleted') {
    path = '/admin/workspaces';
    const status = message.type === 'workspace.deleted' ? 'deleted' : 'active';
    body = { ...message.data, status, updatedAt: message.occurredAt };
  } else return;
  const response = await sendJson({
    method: 'POST',
    url: new URL(path, baseUrl).toString(),
    body: JSON.stringify(body),
    timeoutMs: 5_000,
  });
  if (response.status !== 200) {
    throw new Error(`management server refused ${message.type} ${message.id}: ${response.status}`);
  }
}

/** SOURCE_DROP_RATE as a share in 0..1 (the fallback when unset). */
export function dropRateFromEnv(env: NodeJS.ProcessEnv, fallback: number): number {
  const raw = env.SOURCE_DROP_RATE;
  if (raw === undefined || raw === '') return fallback;
  const rate = Number(raw);
  if (!(rate >= 0 && rate <= 1)) throw new Error(`SOURCE_DROP_RATE must be 0..1 (got '${raw}')`);
  return rate;
}

/** Which of `count` events to drop: exactly round(rate x count) of them, picked at random. */
export function pickDropped(count: number, rate: number, random = Math.random): Set<number> {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return new Set(order.slice(0, Math.round(rate * count)));
}
