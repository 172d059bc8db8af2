import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.ts';

/** ESM bundles have no `require`; some CommonJS dependencies still call it. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * The one definition of how functions are bundled, used by NodejsFunction (infra) and by the
 * bundle benchmark so both measure the same thing.
 */
export const LAMBDA_BUNDLE = {
  format: 'esm',
  // The same bundle runs in the local stack on Node 20.
  target: 'node20',
  mainFields: ['module', 'main'],
  minify: true,
  // A separate index.mjs.map, linked from the bundle's last line (an inline map is MBs more for
  // Node to read at import). Functions run without `--enable-source-maps`, which parses the map
  // at every cold start; the logger maps stacks with it on the first logged error instead
  // (shared/lambda/source-maps.ts).
  sourcemap: true,
  banner: ESM_REQUIRE_BANNER,
  alias: {
    '@aws-sdk/credential-provider-node': join(
      PROJECT_ROOT,
      'infra',
      'bundling',
      'env-credentials.ts',
    ),
  },
} as const;
