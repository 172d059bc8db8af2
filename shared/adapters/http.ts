import { TransientError } from '../domain/errors.ts';
import { backoffMs, retryAfterMs, sleep } from '../domain/retry.ts';

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined when the body is empty. */
  json: unknown;
}

/** The service answered with a status we do not accept, or could not be reached. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** 5xx, 408, 429 and transport failures are worth another attempt; other 4xx are not. */
export const isRetryableStatus = (status: number) =>
  status >= 500 || status === 408 || status === 429;

/**
 * One HTTP exchange with a timeout. Transport errors and timeouts become retryable
 * HttpErrors; the caller decides what a status means. Messages name the method and path
 * only: query strings, headers and bodies can carry secrets.
 */
export async function sendJson(request: HttpRequest): Promise<HttpResponse> {
  const target = describe(request);
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: { accept: 'application/json', ...request.headers },
      body: request.body,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    const cause = timedOut ? `timed out after ${request.timeoutMs} ms` : transportCause(error);
    throw new HttpError(`${target} ${cause}`, true);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new HttpError(`${target} failed reading the response: ${transportCause(error)}`, true);
  }
  let json: unknown;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(
        `${target} answered ${response.status} with a body that is not JSON`,
        true,
        response.status,
      );
    }
  }
  return { status: response.status, headers: response.headers, json };
}

/** Turns a non-2xx response into an HttpError with the server's own short explanation. */
export function statusError(request: HttpRequest, response: HttpResponse): HttpError {
  const detail = serverMessage(response.json);
  return new HttpError(
    `${describe(request)} answered ${response.status}${detail ? `: ${detail}` : ''}`,
    isRetryableStatus(response.status),
    response.status,
    retryAfterMs(response.headers.get('retry-after')),
  );
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Called before each wait; for metrics and logs. */
  onRetry?: (error: HttpError, attempt: number, delayMs: number) => void;
}

/** Retries retryable HttpErrors with full-jitter backoff, honouring Retry-After. */
export async function withRetries<T>(policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof HttpError) || !error.retryable || n >= policy.attempts) throw error;
      const delay = Math.min(
        policy.maxDelayMs,
        error.retryAfterMs ?? backoffMs(n, policy.baseDelayMs, policy.maxDelayMs),
      );
      policy.onRetry?.(error, n, delay);
      await sleep(delay);
    }
  }
}

/** Rethrows retryable HTTP failures as TransientError so handlers treat them uniformly. */
export class ServiceUnavailableError extends TransientError {
  override readonly name = 'ServiceUnavailableError';
}

function describe(request: HttpRequest): string {
  const url = new URL(request.url);
  return `${request.method} ${url.host}${url.pathname}`;
}

function transportCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string } })?.cause;
  return cause?.code ? `could not connect (${cause.code})` : 'could not connect';
}

function serverMessage(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { error, message } = json as { error?: unknown; message?: unknown };
  const text =
    typeof error === 'string' ? error : typeof message === 'string' ? message : undefined;
  return text?.slice(0, 200);
}
