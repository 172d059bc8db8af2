// The CDK CLI entry point (cdk.json -> infra/main.ts): what operators and CI run.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/paths.ts';

const outdir = mkdtempSync(join(tmpdir(), 'shard-control-cli-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('npx cdk synth -c stage=dev', () => {
  it('synthesizes the dev stack with cdk-nag clean and the reconcile schedule in it', async () => {
    await promisify(execFile)(
      'npx',
      ['cdk', 'synth', '-c', 'stage=dev', '--quiet', '--output', outdir],
      { cwd: PROJECT_ROOT, env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' } },
    );
    const file = join(outdir, 'shard-control-dev.template.json');
    expect(existsSync(file)).toBe(true);
    const template = JSON.parse(readFileSync(file, 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    expect(template.Resources.ScheduleReconcileSweep?.Type).toBe('AWS::Scheduler::Schedule');
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);
  }, 120_000);
});
