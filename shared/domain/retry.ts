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

/** SQS caps a visibility timeout at 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * Retry ladder of a record that failed transiently, set through its visibility timeout:
 * the ceiling doubles from one base delay and stops at this many (15 min at the default 30 s),
 * so a long outage is probed every few minutes rather than ever more rarely.
 */
export const RETRY_CAP_FACTOR = 30;
/** The ladder keeps retrying for at least this many base delays (6 h at 30 s) before the DLQ. */
export const RETRY_COVERAGE_FACTOR = 720;
/**
 * Delays are random (full jitter), so "at least" holds at this many standard deviations below
 * the mean of their sum: a shorter ladder is a ~1-in-30,000 draw (normal tail at 4 sigma).
 */
export const RETRY_COVERAGE_SIGMAS = 4;

/** Ceiling, in base delays, of the delay after the `receiveCount`-th failed receive. */
export function retryCeilingFactor(receiveCount: number): number {
  return Math.min(RETRY_CAP_FACTOR, 2 ** Math.max(0, receiveCount - 1));
}

/**
 * Visibility timeout (whole seconds, as SQS wants) of a record that failed on its
 * `receiveCount`-th receive: uniform in [0, ceiling] (full jitter, so records that failed
 * together do not all come back together), ceiling = min(30, 2^(n-1)) x base. Rounded to the
 * nearest second, which keeps the mean at ceiling / 2 for whole-second ceilings, and never
 * above the ceiling (a fractional base such as 0.5 s makes the first step 0 s).
 */
export function retryVisibilitySeconds(
  receiveCount: number,
  baseSeconds: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(MAX_VISIBILITY_SECONDS, baseSeconds * retryCeilingFactor(receiveCount));
  if (!(ceiling > 0)) return 0;
  return Math.min(Math.floor(ceiling), Math.max(0, Math.round(random() * ceiling)));
}

/**
 * Mean and variance, in base delays, of the sum of the first `steps` ladder delays. A delay
 * uniform in [0, c] has mean c / 2 and variance c^2 / 12; the delays are independent.
 */
export function ladderMoments(steps: number): { mean: number; variance: number } {
  let mean = 0;
  let variance = 0;
  for (let n = 1; n <= steps; n++) {
    const c = retryCeilingFactor(n);
    mean += c / 2;
    variance += (c * c) / 12;
  }
  return { mean, variance };
}

/**
 * Smallest `maxReceiveCount` whose retries span at least `coverage` base delays, taken as the
 * mean minus `sigmas` standard deviations of the sum of the delays. With maxReceiveCount N the
 * record is received N times, so the retries span the N - 1 delays between those receives
 * (the delay after the last failure only decides when SQS moves it to the DLQ).
 */
export function receiveCountCovering(
  coverage = RETRY_COVERAGE_FACTOR,
  sigmas = RETRY_COVERAGE_SIGMAS,
): number {
  for (let count = 1; ; count++) {
    const { mean, variance } = ladderMoments(count - 1);
    if (mean - sigmas * Math.sqrt(variance) >= coverage) return count;
  }
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
