// In-process synthesis for assertions on templates. Assets are not looked at, so nothing is
// bundled; and aws-cdk-lib's built-in CloudFormation validation (about 3 s of CPU per
// synthesis, most of the infra tests' time) is left to main.test.ts, which runs
// `npx cdk synth` on the whole stack as operators do and asserts an empty validation report.
import { App } from 'aws-cdk-lib';
import { type BuildAppOptions, buildApp } from '../../infra/app.ts';

const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/** An App for construct tests; `bundle` synthesizes its assets too. */
export const testApp = (opts: { bundle?: boolean } = {}) =>
  new App({
    context: opts.bundle ? {} : SKIP_BUNDLING,
    builtinCloudFormationValidation: false,
  });

/** The project's app (infra/app.ts), without bundling unless `bundle`. */
export const buildTestApp = (opts: BuildAppOptions & { bundle?: boolean }) => {
  const { bundle, ...options } = opts;
  return buildApp({
    ...options,
    context: { ...(bundle ? {} : SKIP_BUNDLING), ...options.context },
    cloudFormationValidation: false,
  });
};
