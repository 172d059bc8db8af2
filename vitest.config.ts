import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/support/slow-first-sequencer.ts';

/**
 * `*.long.test.ts` are drills that last minutes by definition (a 150 s dependency outage):
 * `npm run test:long` runs them (vitest.long.config.ts) and CI runs both; `npm test` stays fast.
 */
export const LONG_TESTS = 'test/**/*.long.test.ts';
/** Synthesis tests: pure functions of the CDK app, no servers, no process-wide state. */
const INFRA_TESTS = 'test/infra/**/*.test.ts';

export default defineConfig({
  test: {
    environment: 'node',
    // Integration tests start emulators on free ports; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'infra',
          include: [INFRA_TESTS],
          // One process for every synthesis file: aws-cdk-lib's import and first synthesis
          // (about 10 s of CPU, mostly warm-up) are paid once instead of once per file.
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: [LONG_TESTS, INFRA_TESTS, '**/node_modules/**'],
          // Shares one AWS DynamoDB Local (started on first use) across the run's test files.
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
        },
      },
    ],
  },
});
