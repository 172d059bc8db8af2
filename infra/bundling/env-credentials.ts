// Bundled in place of @aws-sdk/credential-provider-node (esbuild alias, see infra/bundling.ts).
// Lambda hands every function its role's credentials in environment variables, valid for the
// sandbox's life; the SDK's full default chain (SSO, INI files, STS web identity, process,
// container metadata) would add ~140 KB to every bundle and to every cold start for nothing.
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
