import * as cdk from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { assertStage } from './naming.ts';
import { ShardControlStack } from './stack.ts';

export interface BuildAppOptions {
  readonly stage: string;
  readonly outdir?: string;
  /** Extra context (e.g. `citrusUrl`, `alarmEmail`); CLI `-c` values win over these. */
  readonly context?: Record<string, unknown>;
  /**
   * aws-cdk-lib's built-in CloudFormation validation, on by default as in `cdk synth`. It costs
   * about 3 s of CPU per synthesis: the local stack, which never reaches CloudFormation, and
   * tests of single resources turn it off.
   */
  readonly cloudFormationValidation?: boolean;
}

const optionalInteger = (app: cdk.App, key: string): number | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n)) throw new Error(`context ${key} must be an integer`);
  return n;
};

const optionalNumber = (app: cdk.App, key: string): number | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new Error(`context ${key} must be a number`);
  return n;
};

const optionalString = (app: cdk.App, key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`context ${key} must be a string`);
  return value;
};

/**
 * Builds the CDK app with one stack, `shard-control-<stage>`. Used by `infra/main.ts` (CLI) and
 * in-process by tests and the local stack (`app.synth()` then read the template and assets).
 */
export function buildApp(opts: BuildAppOptions): { app: cdk.App; stack: ShardControlStack } {
  assertStage(opts.stage);
  const app = new cdk.App({
    outdir: opts.outdir,
    analyticsReporting: false,
    builtinCloudFormationValidation: opts.cloudFormationValidation ?? true,
    context: { ...opts.context, stage: opts.stage },
    // Forced after CLI context: the local stack finds each function's bundle via `aws:asset:path`.
    postCliContext: {
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:enable-path-metadata': true,
    },
  });
  const stack = new ShardControlStack(app, `shard-control-${opts.stage}`, {
    stage: opts.stage,
    description: `shard-control control plane (${opts.stage})`,
    citrusUrl: optionalString(app, 'citrusUrl'),
    alarmEmail: optionalString(app, 'alarmEmail'),
    reconcileRateMinutes: optionalInteger(app, 'reconcileRateMinutes'),
    retryBaseSeconds: optionalNumber(app, 'retryBaseSeconds'),
    sourceSyncRateMinutes: optionalInteger(app, 'sourceSyncRateMinutes'),
    sourceUrl: optionalString(app, 'sourceUrl'),
  });
  // cdk-nag 3 runs as a validation plugin: an unacknowledged finding fails synthesis.
  cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
