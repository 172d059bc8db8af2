// The chaos run, small: a fixed seed at scale 0.5 (about 50 messages, 20 s of faults) through
// the whole local stack, then the checker and the runbook drill. Figures are logged; the
// assertions are the pass criteria, never timings beyond the convergence bound.
import { describe, expect, it } from 'vitest';
import { planChaos } from '../../bench/chaos/plan.ts';
import { runChaos } from '../../bench/chaos/run.ts';
import { chaosShape, chaosTable } from '../../bench/chaos.ts';

const SEED = 1;
const SCALE = 0.5;

describe('chaos (seed 1, scale 0.5)', () => {
  it('plans the same schedule for the same seed, another for another seed', () => {
    const plan = planChaos(chaosShape(SEED, SCALE));
    expect(planChaos(chaosShape(SEED, SCALE)).hash).toBe(plan.hash);
    expect(planChaos(chaosShape(SEED + 1, SCALE)).hash).not.toBe(plan.hash);
    const sends = plan.ticks.flatMap((t) => t.sends);
    const share = (kind: string) => sends.filter((s) => s.kind === kind).length / sends.length;
    expect(share('duplicate')).toBeGreaterThanOrEqual(0.1);
    expect(share('poison')).toBeGreaterThanOrEqual(0.01);
    expect(plan.unsent.length / (plan.unsent.length + sends.length)).toBeGreaterThanOrEqual(0.05);
    const kinds = new Set(plan.ticks.flatMap((t) => t.faults.map((f) => f.kind)));
    expect([...kinds].sort()).toEqual(
      ['add-node', 'citrus', 'dynamodb-throttling', 'kill', 'node', 'remove-node'].sort(),
    );
  });

  it('ends with every node converged, poison parked with reasons, and a harmless replay', async () => {
    const result = await runChaos(planChaos(chaosShape(SEED, SCALE)), {
      log: (line) => console.log(`chaos: ${line}`),
    });
    console.log(chaosTable(result));
    expect(result.failures).toEqual([]);
    expect(result.figures).toMatchObject({
      lost: 0,
      unexpected: 0,
      validInDlq: 0,
      poisonNotInDlq: 0,
      poisonWithoutReason: 0,
    });
    expect(result.figures.maxCitrusRegistrationsPerLocation).toBeLessThanOrEqual(2);
    expect(result.figures.killedInvocations).toBeGreaterThan(0);
    expect(result.drill).toMatchObject({
      dryRunMovedNothing: true,
      replayChangedNothing: true,
      repaired: true,
    });
  }, 400_000);
});
