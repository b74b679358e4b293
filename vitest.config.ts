import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
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
          fileParallelism: false,
        },
      },
      {
        // starts its own 3-node cluster (scripts/failover.mjs); needs the built package
        test: { name: 'failover', include: ['test/failover/**/*.test.ts'], environment: 'node', testTimeout: 600_000 },
      },
    ],
  },
})
