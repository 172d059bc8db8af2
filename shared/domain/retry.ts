/** Exponential backoff with full jitter (AWS Architecture Blog), capped. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  capMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Visibility timeout for a record that failed transiently, growing with its receive count
 * so that an outage is not hammered: base, 2x base, 4x base ... capped at 12 h (SQS max).
 */
export function retryVisibilitySeconds(receiveCount: number, baseSeconds: number): number {
  const seconds = baseSeconds * 2 ** Math.max(0, receiveCount - 1);
  return Math.min(43_200, Math.max(0, Math.round(seconds)));
}

/** Parses an HTTP `Retry-After` header (seconds or HTTP date) into milliseconds. */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
