import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { PARAMETERS, type ParameterKey, ssmPrefix } from '../contracts/names.ts';
import { type SigningKeys, SigningKeys as SigningKeysSchema } from '../contracts/signing.ts';
import { describeIssues } from '../contracts/zod.ts';
import { TransientError } from '../domain/errors.ts';
import { Secret } from '../domain/secret.ts';

export interface Config {
  citrus: { url: string; apiKey: Secret; timeoutMs: number; retryAttempts: number };
  nodeAgent: { signingKeys: Secret<SigningKeys>; timeoutMs: number };
  reconcile: {
    orphanGraceSeconds: number;
    fullVerifyEvery: number;
    errorAfterFailures: number;
    enabled: boolean;
  };
  source: SourceSection;
}

/** Source reconciliation's settings; its timeout and retries are the Citrus ones. */
export interface SourceConfig {
  url: string;
  token: Secret;
  fullSyncEvery: number;
  deleteGraceSeconds: number;
  maxDeletes: number;
  timeoutMs: number;
  retryAttempts: number;
}

/**
 * Off (no url), on, or misconfigured: a bad source section stops source reconciliation only,
 * never the functions that share this configuration.
 */
export type SourceSection =
  | { state: 'off' }
  | { state: 'invalid'; reason: string }
  | ({ state: 'on' } & SourceConfig);

/** Missing or malformed configuration: an operator problem, so records are retried, not poisoned. */
export class ConfigError extends TransientError {
  override readonly name = 'ConfigError';
}

export interface ConfigSourceOptions {
  stage: string;
  /** Cache lifetime; parameters are re-read after it (key rotation reaches warm functions). */
  maxAgeSeconds?: number;
  provider?: SSMProvider;
}

/**
 * Reads every stage parameter through Powertools Parameters (GetParameters, ten names per
 * call), which caches them for `maxAgeSeconds`. SecureStrings are decrypted and wrapped
 * in Secret at once so they cannot reach a log line.
 */
export function createConfigSource(options: ConfigSourceOptions) {
  const provider = options.provider ?? new SSMProvider();
  const prefix = ssmPrefix(options.stage);
  const keys = Object.keys(PARAMETERS) as ParameterKey[];
  const request = Object.fromEntries(
    keys.map((key) => [`${prefix}/${PARAMETERS[key].name}`, { decrypt: PARAMETERS[key].secure }]),
  );

  const maxAgeMs = (options.maxAgeSeconds ?? 300) * 1000;
  // The same values give back the same object, so callers can cache clients by identity.
  let last: { fingerprint: string; config: Config; readAt: number } | undefined;

  /** `fresh` skips the cache (the sweep's kill switch must act on the next run, not in 5 min). */
  return async function loadConfig(read: { fresh?: boolean } = {}): Promise<Config> {
    // Every record reads the configuration, so a valid one is kept for maxAge here, not only in
    // Powertools' cache: given secrets and plain values in one request, Powertools 2.35 sends a
    // GetParameter per secret on every call (three SSM requests per record, against SSM's
    // 40 requests/s), and it never caches a parameter that does not exist (the optional ones).
    if (!read.fresh && last && Date.now() - last.readAt < maxAgeMs) return last.config;
    let values: Record<string, unknown>;
    // getParametersByName has no forceFetch (Powertools 2.35): drop this provider's cache instead.
    if (read.fresh) provider.clearCache();
    try {
      values = await provider.getParametersByName<string>(request, {
        maxAge: options.maxAgeSeconds ?? 300,
        throwOnError: false,
      });
    } catch (error) {
      throw new ConfigError(
        `could not read SSM parameters under ${prefix}: ${(error as Error).name}`,
        { cause: error },
      );
    }
    const fingerprint = JSON.stringify(values);
    if (last?.fingerprint === fingerprint) {
      last.readAt = Date.now();
      return last.config;
    }
    const value = (key: ParameterKey): string => {
      const found = values[`${prefix}/${PARAMETERS[key].name}`];
      if (typeof found === 'string' && found.length > 0) return found;
      const fallback = (PARAMETERS[key] as { default?: string }).default;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`SSM parameter ${prefix}/${PARAMETERS[key].name} is missing`);
    };
    const number = (key: ParameterKey): number => {
      const parsed = Number(value(key));
      if (!Number.isFinite(parsed) || parsed < 0) {
        throw new ConfigError(
          `SSM parameter ${prefix}/${PARAMETERS[key].name} is not a non-negative number`,
        );
      }
      return parsed;
    };
    const source = (): SourceSection => {
      const found = values[`${prefix}/${PARAMETERS.sourceUrl.name}`];
      const url = typeof found === 'string' ? found.trim() : '';
      if (!url) return { state: 'off' };
      try {
        return {
          state: 'on',
          url,
          token: new Secret(value('sourceToken')),
          fullSyncEvery: Math.max(1, number('sourceFullSyncEvery')),
          deleteGraceSeconds: number('sourceDeleteGraceSeconds'),
          maxDeletes: number('sourceMaxDeletes'),
          timeoutMs: number('citrusTimeoutMs'),
          retryAttempts: Math.max(1, number('citrusRetryAttempts')),
        };
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return { state: 'invalid', reason: error.message };
      }
    };
    const config: Config = {
      citrus: {
        url: value('citrusUrl'),
        apiKey: new Secret(value('citrusApiKey')),
        timeoutMs: number('citrusTimeoutMs'),
        retryAttempts: Math.max(1, number('citrusRetryAttempts')),
      },
      nodeAgent: {
        signingKeys: new Secret(
          parseSigningKeys(
            value('nodeSigningKeys'),
            `${prefix}/${PARAMETERS.nodeSigningKeys.name}`,
          ),
        ),
        timeoutMs: number('nodeTimeoutMs'),
      },
      reconcile: {
        orphanGraceSeconds: number('orphanGraceSeconds'),
        fullVerifyEvery: Math.max(1, number('fullVerifyEvery')),
        errorAfterFailures: Math.max(1, number('errorAfterFailures')),
        enabled: value('reconcileEnabled').trim().toLowerCase() !== 'false',
      },
      source: source(),
    };
    last = { fingerprint, config, readAt: Date.now() };
    return config;
  };
}

function parseSigningKeys(raw: string, name: string): SigningKeys {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // No cause on purpose: JSON.parse's message quotes the text, here a secret.
    throw new ConfigError(`SSM parameter ${name} is not valid JSON`);
  }
  const parsed = SigningKeysSchema.safeParse(json);
  if (!parsed.success)
    throw new ConfigError(`SSM parameter ${name} is malformed: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
