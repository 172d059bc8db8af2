import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Shares one AWS DynamoDB Local (started on first use) across the run's test files.
    globalSetup: ['test/support/dynamodb-global-setup.ts'],
    // Integration tests start emulators on free ports; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
