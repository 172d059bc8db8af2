// Bundles the shardctl CLI into dist/shardctl.mjs (the package's `bin`), so it runs with plain
// node: no tsx, no TypeScript. Run by `npm install` in a checkout (the `prepare` script).
import { chmodSync } from 'node:fs';

let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  // An install without dev dependencies must not fail for the CLI's sake.
  console.warn(
    'shardctl: not bundled (esbuild is a dev dependency); `npm run shardctl` still works',
  );
  process.exit(0);
}

const outfile = new URL('../dist/shardctl.mjs', import.meta.url).pathname;
await build({
  entryPoints: [new URL('./shardctl.ts', import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // The SDK's CommonJS modules require Node built-ins: give the ES module a `require`.
  banner: {
    js: "import { createRequire as __shardctlRequire } from 'node:module'; const require = __shardctlRequire(import.meta.url);",
  },
});
chmodSync(outfile, 0o755);
