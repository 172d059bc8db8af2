import { defineConfig } from 'vitest/config';
import { LONG_TESTS } from './vitest.config.ts';

// The long drills only (see vitest.config.ts): `npm run test:long`.
export default defineConfig({
  test: {
    include: [LONG_TESTS],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
