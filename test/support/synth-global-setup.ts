// vitest globalSetup: the local stack's CDK synthesis (template + esbuild bundles, about 20 s of
// CPU) made once, before the test files start, into the cache every worker reads
// (.local/synth). On a fresh clone the first stacks of several workers would otherwise each
// synthesize at once; on a warm checkout this is a hash of the sources.
import { synthesizeLocal } from '../../local/runtime/template.ts';

export default async function setup() {
  const { synthMs, cacheHit } = await synthesizeLocal();
  if (!cacheHit) console.log(`[synth] local stack synthesized once for the run in ${synthMs} ms`);
}
