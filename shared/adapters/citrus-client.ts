import type * as z from 'zod/mini';
import {
  RegisterResponse,
  ShardDetails,
  type ShardDetails as ShardDetailsType,
  ShardHealthPage,
  type ShardHealthPage as ShardHealthPageType,
} from '../contracts/citrus.ts';
import type { ShardCreateData } from '../contracts/messages.ts';
import { describeIssues } from '../contracts/zod.ts';
import { PermanentError, TransientError } from '../domain/errors.ts';
import type { Secret } from '../domain/secret.ts';
import { HttpError, type HttpRequest, sendWithRetries } from './http.ts';

export interface CitrusClientOptions {
  baseUrl: string;
  apiKey: Secret;
  timeoutMs: number;
  attempts: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Observes each call's total latency (all attempts), for metrics. */
  onCall?: (operation: string, ms: number, ok: boolean) => void;
  onRetry?: (operation: string, reason: string, attempt: number, delayMs: number) => void;
}

/** Citrus said no (4xx other than 408/429): retrying the same request cannot help. */
export class CitrusRejectedError extends PermanentError {
  override readonly name = 'CitrusRejectedError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Citrus is down, overloaded or slow: the caller should retry later. */
export class CitrusUnavailableError extends TransientError {
  override readonly name = 'CitrusUnavailableError';
}

/** Citrus HTTP client (register, shard details, shard health). Never logs or throws the key or a connection string. */
export class CitrusClient {
  readonly #options: CitrusClientOptions;

  constructor(options: CitrusClientOptions) {
    this.#options = options;
  }

  register(location: ShardCreateData) {
    return this.#call('register', 'POST', '/api/register', RegisterResponse, {
      businessId: location.businessId,
      locationId: location.locationId,
      businessType: location.businessType,
    });
  }

  /** Shard details; the connection string is dropped here so that no caller can keep it. */
  async getShard(shardKey: string): Promise<Omit<ShardDetailsType, 'connectionString'>> {
    const path = `/api/shard/${encodeURIComponent(shardKey)}`;
    const { connectionString: _secret, ...details } = await this.#call(
      'getShard',
      'GET',
      path,
      ShardDetails,
    );
    return details;
  }

  shardHealthPage(cursor?: string, limit = 500): Promise<ShardHealthPageType> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    return this.#call('shardsHealth', 'GET', `/api/shards/health?${query}`, ShardHealthPage);
  }

  async #call<S extends z.ZodMiniType>(
    operation: string,
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const options = this.#options;
    const request: HttpRequest = {
      method,
      url: new URL(path, options.baseUrl).toString(),
      headers: {
        authorization: `Bearer ${options.apiKey.reveal()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: options.timeoutMs,
    };
    const started = performance.now();
    let ok = false;
    try {
      const response = await sendWithRetries(request, {
        attempts: options.attempts,
        baseDelayMs: options.baseDelayMs,
        maxDelayMs: options.maxDelayMs,
        onRetry: (error, attempt, delay) =>
          options.onRetry?.(operation, error.message, attempt, delay),
      });
      const parsed = schema.safeParse(response.json);
      if (!parsed.success) {
        // A broken answer is Citrus's fault, not the message's: retry later rather than poison.
        throw new CitrusUnavailableError(
          `Citrus ${operation} returned an unexpected body: ${describeIssues(parsed.error)}`,
        );
      }
      ok = true;
      return parsed.data;
    } catch (error) {
      if (error instanceof HttpError) {
        const message = `Citrus ${operation} failed: ${error.message}`;
        throw error.retryable
          ? new CitrusUnavailableError(message)
          : new CitrusRejectedError(message, error.status);
      }
      throw error;
    } finally {
      options.onCall?.(operation, performance.now() - started, ok);
    }
  }
}
