import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/support/slow-first-sequencer.ts';

/**
 * `*.long.test.ts` are drills that last minutes by definition (a 150 s dependency outage):
 * `npm run test:long` runs them (vitest.long.config.ts) and CI runs both; `npm test` stays fast.
 */
export const LONG_TESTS = 'test/**/*.long.test.ts';
/** Synthesis tests: pure functions of the CDK app, no servers, no process-wide state. */
const INFRA_TESTS = 'test/infra/**/*.test.ts';
/**
 * Files that change process-wide state another file would inherit in a shared process:
 * process.env read at import by Powertools and the handlers, and aws-sdk-client-mock's patch
 * of SQSClient.prototype.send. Each runs in a fresh process, as vitest isolates by default.
 */
const PROCESS_STATE_TESTS = [
  'test/functions/**/*.test.ts',
  'test/shared/lambda/sqs-consumer*.test.ts',
  'test/shared/contracts/producer.test.ts',
  'test/cli/shardctl/shardctl.test.ts',
];

export default defineConfig({
  test: {
    environment: 'node',
    // Integration tests start emulators on free ports; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 3,
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
          exclude: [LONG_TESTS, INFRA_TESTS, ...PROCESS_STATE_TESTS, '**/node_modules/**'],
          // Shares one AWS DynamoDB Local (started on first use) across the run's test files.
          // The local stack's synthesis, once for the run (test/support/synth-global-setup.ts).
          globalSetup: [
            'test/support/dynamodb-global-setup.ts',
            'test/support/synth-global-setup.ts',
          ],
          // Files share their worker process: a fresh process per file cost about 1 s of CPU
          // each (imports, transforms), a third of the suite. Every file starts its own
          // servers on free ports and stops them; none patches globals (see PROCESS_STATE_TESTS).
          isolate: false,
        },
      },
      {
        extends: true,
        test: { name: 'isolated', include: PROCESS_STATE_TESTS },
      },
    ],
  },
});
