import { defineConfig } from 'vitest/config'

// `npm test` runs every project, one test file at a time: the suites share a 2-core machine with real brokers, so
// running them side by side would only measure contention. Each runtime/transport area has its own config file,
// also runnable alone (npx vitest run -c vitest.<area>.config.ts).
export default defineConfig({
  test: {
    maxWorkers: 1,
    fileParallelism: false,
    // `npm test` and `npm run coverage` measure V8 line coverage of src/ and adapters/ in every Node-side and Chromium
    // project (code running inside workerd or in child processes is not seen: see docs/testing.md)
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'adapters/**/*.ts'],
      exclude: ['**/*.d.ts'],
      reporter: ['text-summary', 'json-summary', ['text', { skipFull: true }]],
      reportsDirectory: 'test-results/coverage',
    },
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/kafka-global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // starts its own 3-node cluster (scripts/failover.mjs); needs the built package
        test: { name: 'failover', include: ['test/failover/**/*.test.ts'], environment: 'node', testTimeout: 600_000 },
      },
      './vitest.gateway.config.ts',
      './vitest.workers.config.ts',
      './vitest.runtimes.config.ts',
      './vitest.contract.config.ts',
      './vitest.browser.config.ts',
    ],
  },
})
