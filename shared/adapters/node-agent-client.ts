import type * as z from 'zod/mini';
import {
  ApplyResponse,
  DONE_RESULTS,
  HealthResponse,
  MAX_APPLY_IDS,
  type ResourceKind,
  ResultResponse,
  type SchemaApplyRequest,
  SchemaList,
  type SchemaSpec,
  type StoreApplyRequest,
  StoreList,
} from '../contracts/node-agent.ts';
import { type SigningKeys, signRequest } from '../contracts/signing.ts';
import { describeIssues } from '../contracts/zod.ts';
import { mapSettled } from '../domain/pool.ts';
import type { NodeOutcome } from '../domain/ports.ts';
import type { Secret } from '../domain/secret.ts';
import { HttpError, sendJson, statusError } from './http.ts';

export interface NodeAgentClientOptions {
  signingKeys: Secret<SigningKeys>;
  timeoutMs: number;
  /** Timeout of the reachability probe; shorter than a normal call. */
  healthTimeoutMs?: number;
}

export class NodeAgentError extends Error {
  override readonly name = 'NodeAgentError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Node agent API v1 client (docs/node-agent-api.md): every request HMAC-signed with the current key.
 * Requests go through the keep-alive agents of http.ts, so a fan-out reuses sockets per node.
 */
export class NodeAgentClient {
  readonly #options: NodeAgentClientOptions;

  constructor(options: NodeAgentClientOptions) {
    this.#options = options;
  }

  health(endpoint: string) {
    const timeout = this.#options.healthTimeoutMs ?? Math.min(1_000, this.#options.timeoutMs);
    return this.#call(endpoint, 'GET', '/v1/health', HealthResponse, undefined, timeout);
  }

  async listSchemas(endpoint: string): Promise<SchemaSpec[]> {
    return (await this.#call(endpoint, 'GET', '/v1/schemas', SchemaList)).schemas;
  }

  async listStores(endpoint: string): Promise<string[]> {
    return (await this.#call(endpoint, 'GET', '/v1/stores', StoreList)).storeIds;
  }

  putSchema(endpoint: string, schema: SchemaSpec) {
    const path = `/v1/schemas/${enc(schema.businessId)}/${enc(schema.locationId)}`;
    return this.#result(endpoint, 'PUT', path, { businessType: schema.businessType });
  }

  deleteSchema(endpoint: string, businessId: string, locationId: string) {
    return this.#result(endpoint, 'DELETE', `/v1/schemas/${enc(businessId)}/${enc(locationId)}`);
  }

  putStore(endpoint: string, storeId: string) {
    return this.#result(endpoint, 'PUT', `/v1/stores/${enc(storeId)}`);
  }

  deleteStore(endpoint: string, storeId: string) {
    return this.#result(endpoint, 'DELETE', `/v1/stores/${enc(storeId)}`);
  }

  /** Batch apply; the caller splits into requests of at most MAX_APPLY_IDS ids. */
  async apply(
    endpoint: string,
    kind: 'schemas',
    request: SchemaApplyRequest,
  ): Promise<ApplyResponse>;
  async apply(endpoint: string, kind: 'stores', request: StoreApplyRequest): Promise<ApplyResponse>;
  async apply(
    endpoint: string,
    kind: ResourceKind,
    request: SchemaApplyRequest | StoreApplyRequest,
  ): Promise<ApplyResponse> {
    const ids = request.ensure.length + request.remove.length;
    if (ids > MAX_APPLY_IDS) {
      throw new RangeError(
        `apply carries ${ids} ids; the node agent accepts at most ${MAX_APPLY_IDS}`,
      );
    }
    return this.#call(endpoint, 'POST', `/v1/${kind}:apply`, ApplyResponse, request);
  }

  async #result(endpoint: string, method: string, path: string, body?: unknown): Promise<string> {
    const { result } = await this.#call(
      endpoint,
      method,
      path,
      ResultResponse,
      body,
      undefined,
      true,
    );
    if (!DONE_RESULTS.has(result)) {
      throw new NodeAgentError(
        `${method} ${path} answered an unknown result ${JSON.stringify(result)}`,
      );
    }
    return result;
  }

  async #call<S extends z.ZodMiniType>(
    endpoint: string,
    method: string,
    path: string,
    schema: S,
    body?: unknown,
    timeoutMs = this.#options.timeoutMs,
    notFoundIsAnswer = false,
  ): Promise<z.infer<S>> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const url = new URL(path, endpoint);
    const signed = signRequest(
      this.#options.signingKeys.reveal().current,
      method,
      url.pathname + url.search,
      text,
    );
    if (text) signed['content-type'] = 'application/json';
    const request = {
      method,
      url, // parsed once: http.ts uses it as it is
      headers: signed,
      body: text || undefined,
      timeoutMs,
    };
    let response: Awaited<ReturnType<typeof sendJson>>;
    try {
      response = await sendJson(request);
    } catch (error) {
      throw error instanceof HttpError
        ? new NodeAgentError(error.message, error.status, { cause: error })
        : error;
    }
    // DELETE of an absent resource answers 404 with a result word: that is success.
    const answered =
      (response.status >= 200 && response.status < 300) ||
      (notFoundIsAnswer && response.status === 404);
    if (!answered) {
      const error = statusError(request, response);
      throw new NodeAgentError(error.message, response.status, { cause: error });
    }
    const parsed = schema.safeParse(response.json);
    if (!parsed.success) {
      throw new NodeAgentError(
        `${method} ${path} returned an unexpected body: ${describeIssues(parsed.error)}`,
      );
    }
    return parsed.data;
  }
}

const enc = encodeURIComponent;

export interface NodeTarget {
  nodeId: string;
  endpoint: string;
}

/** Runs `work` on every node with bounded parallelism; one outcome per node, never throws. */
export async function fanOut<N extends NodeTarget>(
  nodes: readonly N[],
  limit: number,
  work: (node: N) => Promise<unknown>,
): Promise<NodeOutcome[]> {
  const settled = await mapSettled(nodes, limit, work);
  return settled.map((result, i) => {
    const nodeId = (nodes[i] as N).nodeId;
    return result.status === 'fulfilled'
      ? { nodeId, ok: true }
      : {
          nodeId,
          ok: false,
          error: result.reason instanceof Error ? result.reason.message : String(result.reason),
        };
  });
}
