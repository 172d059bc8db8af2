import { fileURLToPath } from 'node:url';

/** Repository root: bundling runs here so esbuild finds the lockfile, tsconfig and node_modules. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
