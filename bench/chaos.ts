// `npm run chaos -- --seed 1 --scale 3`: the local stack under a seeded schedule of load and
// faults (see bench/chaos/plan.ts), then the checker and the runbook drill. Writes
// bench/results/chaos.json and prints a short table; exits 1 when a pass criterion fails.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../local/runtime/lambda-pool.ts';
import { planChaos, planCounts } from './chaos/plan.ts';
import { type ChaosResult, runChaos } from './chaos/run.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export function chaosShape(seed: number, scale: number) {
  // About 20 s of faults at scale 1, longer for more load (ticks of 500 ms).
  return { seed, scale, shards: 3, nodesPerShard: 3, faultTicks: Math.round(30 + 15 * scale) };
}

export function chaosTable(r: ChaosResult): string {
  const f = r.figures;
  const rows: Array<[string, string | number]> = [
    ['seed / scale / plan hash', `${r.seed} / ${r.scale} / ${r.planHash}`],
    [
      'sent (events, duplicates, poison)',
      `${r.load.sent} (${r.load.events}, ${r.load.duplicates}, ${r.load.poison})`,
    ],
    ['never sent (repaired from the listing)', r.load.unsent],
    ['faults scheduled / seconds', `${r.load.faults} / ${r.timings.faultSeconds.toFixed(1)}`],
    ['lost / unexpected', `${f.lost} / ${f.unexpected}`],
    ['poison not in a DLQ / without reason', `${f.poisonNotInDlq} / ${f.poisonWithoutReason}`],
    ['valid messages in a DLQ', f.validInDlq],
    ['Citrus registrations per location (max)', f.maxCitrusRegistrationsPerLocation],
    [
      'node mutations: max per placement / repeated / applies',
      `${f.nodeMutations.maxPerPlacement} / ${f.nodeMutations.placementsMutatedMoreThanOnce} / ${f.nodeMutations.applyBatches}`,
    ],
    [
      'killed invocations / DynamoDB calls throttled',
      `${f.killedInvocations} / ${f.dynamoDbThrottled}`,
    ],
    [
      'converged after faults (s) / within 3 sweeps',
      `${f.convergedSeconds?.toFixed(1) ?? 'never'} / ${f.convergedWithin3Sweeps}`,
    ],
    [
      'vs source: missing / unexpected',
      `${r.notRepairableWithoutSourceSync.missing} / ${r.notRepairableWithoutSourceSync.unexpected}`,
    ],
    [
      'drill: dry run idle / replay idle / repaired',
      `${r.drill.dryRunMovedNothing} / ${r.drill.replayChangedNothing} / ${r.drill.repaired}`,
    ],
    ['pass', r.pass ? 'yes' : `NO: ${r.failures.join('; ')}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      scale: { type: 'string', default: '1' },
      'plan-only': { type: 'boolean', default: false },
    },
  });
  const seed = Number(values.seed);
  const scale = Number(values.scale);
  if (!Number.isInteger(seed) || !(scale > 0)) {
    console.error('--seed must be an integer and --scale a positive number');
    return 2;
  }
  const plan = planChaos(chaosShape(seed, scale));
  console.log(`chaos: seed ${seed}, scale ${scale}, plan hash ${plan.hash}`);
  console.log(`chaos: ${JSON.stringify(planCounts(plan))}`);
  if (values['plan-only']) return 0;
  const result = await runChaos(plan, {
    logFile: join(REPO_ROOT, '.local', 'logs', 'chaos.log'),
    log: (line) => console.log(`chaos: ${line}`),
  });
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'chaos.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(chaosTable(result));
  return result.pass ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
