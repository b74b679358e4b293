import { defineConfig } from 'vitest/config'

// The built package on Node 20 / Node 22 / Bun / Deno (runtimes installed on demand by scripts/runtimes.mjs into
// ~/.cache/isokafka/runtimes), each producing through the Node TCP adapter, read back with kcat:
// `npm run build && npx vitest run -c vitest.runtimes.config.ts` (RUNTIMES=bun,deno for a subset).
// Uses the broker of the shared global setup (or KAFKA_BOOTSTRAP).
export default defineConfig({
  test: {
    name: 'runtimes',
    include: ['test/runtimes/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/setup/kafka-global-setup.ts'],
    // the first run installs up to ~400 MB of runtimes from the npm registry; later runs find them cached
    testTimeout: 900_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
})
