// Seeded pseudo-random numbers for fault injection and load generation: the same seed gives the
// same draws on every run, so a failing chaos run or throttling test can be replayed exactly.

/** mulberry32: small, fast, and good enough to schedule faults (not for secrets). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
