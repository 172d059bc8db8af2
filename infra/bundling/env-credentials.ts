// Bundled in place of @aws-sdk/credential-provider-node (esbuild alias, see infra/bundling.ts).
// Lambda hands every function its role's credentials in environment variables, valid for the
// sandbox's life; the SDK's full default chain (SSO, INI files, STS web identity, process,
// container metadata) would add ~140 KB to every bundle and to every cold start for nothing.
import { fromEnv } from '@aws-sdk/credential-provider-env';

type Credentials = Awaited<ReturnType<ReturnType<typeof fromEnv>>>;

/** As the SDK's default chain: credentials about to expire are read again before they do. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const stale = (c: Credentials) =>
  c.expiration !== undefined && c.expiration.getTime() - Date.now() < REFRESH_BEFORE_EXPIRY_MS;

/**
 * Memoized, as the default chain it replaces is: the SDK marks whatever this returns as
 * memoized and calls it for every request it signs, so an unmemoized provider read six
 * environment variables per request.
 */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => {
  const read = fromEnv(init);
  let cached: Promise<Credentials> | undefined;
  return async (options?: { forceRefresh?: boolean }): Promise<Credentials> => {
    if (cached && !options?.forceRefresh) {
      const credentials = await cached.catch(() => undefined);
      if (credentials && !stale(credentials)) return credentials;
    }
    const reading = read();
    cached = reading;
    return reading;
  };
};
