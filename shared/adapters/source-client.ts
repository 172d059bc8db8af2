import type * as z from 'zod/mini';
import {
  LocationsPage,
  SOURCE_PAGE_DEFAULT,
  SOURCE_PAGE_MAX,
  SOURCE_PAGE_MIN,
  SOURCE_PATHS,
  type SourceLocation,
  type SourceWorkspace,
  WorkspacesPage,
} from '../contracts/source.ts';
import { describeIssues } from '../contracts/zod.ts';
import { PermanentError, TransientError } from '../domain/errors.ts';
import type { Secret } from '../domain/secret.ts';
import { HttpError, type HttpRequest, sendWithRetries } from './http.ts';

export interface SourceClientOptions {
  baseUrl: string;
  token: Secret;
  /** Per request (each attempt), not per listing. */
  timeoutMs: number;
  /** Attempts per page request, the first included. */
  attempts: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Observes each page request's total latency (all attempts), for metrics. */
  onCall?: (operation: SourceOperation, ms: number, ok: boolean) => void;
  onRetry?: (operation: SourceOperation, reason: string, attempt: number, delayMs: number) => void;
}

export type SourceOperation = 'listLocations' | 'listWorkspaces';

export interface ListOptions {
  /** Only items whose updatedAt is at or after this instant; deleted workspaces included. */
  updatedSince?: string;
  /** Page size, 1..1000; the server's default (500) when absent. */
  limit?: number;
  /** Resumes a listing where an earlier, incomplete one stopped. */
  cursor?: string;
  /** The asOf of the listing being resumed: every page must carry the same one. */
  asOf?: string;
  /**
   * Asked before each page after the first (and before the first when resuming): true stops
   * the listing there, incomplete, with the cursor to resume from. For time budgets.
   */
  shouldStop?: () => boolean;
}

export interface SourcePage<T> {
  items: T[];
  asOf: string;
  /** Absent on the last page. */
  nextCursor?: string;
  /** 1 for the first page this call fetched. */
  page: number;
}

export interface Listing<T> {
  items: T[];
  /** The source's clock when the listing started. */
  asOf: string;
  /** True only when the last page was read: absence may be inferred from complete listings only. */
  complete: boolean;
  /** Where an incomplete listing stopped. */
  nextCursor?: string;
  pages: number;
}

/** The source refused the request (a 4xx other than 408/429): retrying it cannot help. */
export class SourceRejectedError extends PermanentError {
  override readonly name: string = 'SourceRejectedError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** 401/403: the token is missing, wrong or expired. The message names where it comes from. */
export class SourceUnauthorizedError extends SourceRejectedError {
  override readonly name = 'SourceUnauthorizedError';
}

/** The source is down, overloaded or slow: try again on a later run. */
export class SourceUnavailableError extends TransientError {
  override readonly name: string = 'SourceUnavailableError';
}

/**
 * The source answered, but not with a listing we can trust (wrong shape, asOf changing
 * between pages, a cursor that does not move). Nothing may be inferred from such a listing.
 */
export class SourceResponseError extends SourceUnavailableError {
  override readonly name = 'SourceResponseError';
}

const REDACTED = '[redacted]';

/**
 * Client of the management server's listing API. Same request rules as the Citrus client
 * (bearer token, timeout per request, retries with full-jitter backoff and Retry-After);
 * the token never appears in a log line or an error.
 */
export class SourceClient {
  readonly #options: SourceClientOptions;

  constructor(options: SourceClientOptions) {
    this.#options = options;
  }

  /** Pages of `/internal/locations`, validated; stops early when `shouldStop` says so. */
  locationPages(options: ListOptions = {}): AsyncGenerator<SourcePage<SourceLocation>> {
    return this.#pages(
      'listLocations',
      SOURCE_PATHS.locations,
      LocationsPage,
      options,
      (page) => page.locations,
    );
  }

  /** Pages of `/internal/workspaces`, validated; stops early when `shouldStop` says so. */
  workspacePages(options: ListOptions = {}): AsyncGenerator<SourcePage<SourceWorkspace>> {
    return this.#pages(
      'listWorkspaces',
      SOURCE_PATHS.workspaces,
      WorkspacesPage,
      options,
      (page) => page.workspaces,
    );
  }

  listLocations(options: ListOptions = {}): Promise<Listing<SourceLocation>> {
    return collect(this.locationPages(options), options);
  }

  listWorkspaces(options: ListOptions = {}): Promise<Listing<SourceWorkspace>> {
    return collect(this.workspacePages(options), options);
  }

  async *#pages<P extends { nextCursor?: string | null; asOf: string }, T>(
    operation: SourceOperation,
    path: string,
    schema: z.ZodMiniType<P>,
    options: ListOptions,
    itemsOf: (page: P) => T[],
  ): AsyncGenerator<SourcePage<T>> {
    const limit = options.limit;
    if (
      limit !== undefined &&
      (!Number.isInteger(limit) || limit < SOURCE_PAGE_MIN || limit > SOURCE_PAGE_MAX)
    ) {
      throw new RangeError(`limit must be an integer ${SOURCE_PAGE_MIN}..${SOURCE_PAGE_MAX}`);
    }
    let cursor = options.cursor;
    let asOf = options.asOf;
    for (let page = 1; ; page++) {
      if ((page > 1 || cursor !== undefined) && options.shouldStop?.()) return;
      const query = new URLSearchParams();
      query.set('limit', String(limit ?? SOURCE_PAGE_DEFAULT));
      if (cursor) query.set('cursor', cursor);
      if (options.updatedSince) query.set('updatedSince', options.updatedSince);
      const body = await this.#get(operation, `${path}?${query}`, schema, page);
      // One listing is one consistent view: a page from another one would mix two snapshots.
      if (asOf !== undefined && body.asOf !== asOf) {
        throw new SourceResponseError(
          `Source ${operation} page ${page}: asOf changed within one listing (${asOf}, then ${body.asOf})`,
        );
      }
      asOf = body.asOf;
      const next = body.nextCursor || undefined;
      if (next !== undefined && next === cursor) {
        throw new SourceResponseError(
          `Source ${operation} page ${page}: nextCursor repeats the cursor just used`,
        );
      }
      yield { items: itemsOf(body), asOf, page, ...(next ? { nextCursor: next } : {}) };
      if (!next) return;
      cursor = next;
    }
  }

  async #get<S extends z.ZodMiniType>(
    operation: SourceOperation,
    pathAndQuery: string,
    schema: S,
    page: number,
  ): Promise<z.infer<S>> {
    const options = this.#options;
    const token = options.token.reveal();
    const request: HttpRequest = {
      method: 'GET',
      url: new URL(pathAndQuery, options.baseUrl).toString(),
      headers: { authorization: `Bearer ${token}` },
      timeoutMs: options.timeoutMs,
    };
    // A server could echo the header into its error text; scrub it wherever it may surface.
    const scrub = (text: string) => (token ? text.split(token).join(REDACTED) : text);
    const started = performance.now();
    let ok = false;
    try {
      const response = await sendWithRetries(request, {
        attempts: options.attempts,
        baseDelayMs: options.baseDelayMs,
        maxDelayMs: options.maxDelayMs,
        onRetry: (error, attempt, delay) =>
          options.onRetry?.(operation, scrub(error.message), attempt, delay),
      });
      const parsed = schema.safeParse(response.json);
      if (!parsed.success) {
        throw new SourceResponseError(
          scrub(
            `Source ${operation} page ${page} returned an unexpected body: ${describeIssues(parsed.error)}`,
          ),
        );
      }
      ok = true;
      return parsed.data;
    } catch (error) {
      if (error instanceof HttpError) {
        // No cause: the message is scrubbed, the raw error may quote a body that echoes the token.
        const message = scrub(`Source ${operation} failed: ${error.message}`);
        if (error.retryable) throw new SourceUnavailableError(message);
        if (error.status === 401 || error.status === 403) {
          throw new SourceUnauthorizedError(
            `${message} (the source rejected our bearer token: check the source/token parameter)`,
            error.status,
          );
        }
        throw new SourceRejectedError(message, error.status);
      }
      throw error;
    } finally {
      options.onCall?.(operation, performance.now() - started, ok);
    }
  }
}

/** Reads every page into one listing; complete only when the last page was reached. */
async function collect<T>(
  pages: AsyncGenerator<SourcePage<T>>,
  options: ListOptions,
): Promise<Listing<T>> {
  const items: T[] = [];
  let asOf = options.asOf;
  let nextCursor = options.cursor;
  let count = 0;
  for await (const page of pages) {
    items.push(...page.items);
    asOf = page.asOf;
    nextCursor = page.nextCursor;
    count++;
  }
  if (asOf === undefined) {
    // Only possible when shouldStop stopped a resumed listing before its first page.
    throw new RangeError('a resumed listing needs the asOf of the listing it resumes');
  }
  return {
    items,
    asOf,
    complete: nextCursor === undefined,
    pages: count,
    ...(nextCursor !== undefined ? { nextCursor } : {}),
  };
}
