import { defineConfig } from 'vitest/config'

// Gateway tests: the gateway server (adapters/gateway) in-process, against a real broker started by the shared
// global setup, with the websocket and fetch transports as clients. `npx vitest run -c vitest.gateway.config.ts`
export default defineConfig({
  test: {
    name: 'gateway',
    include: ['test/gateway/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/setup/kafka-global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
})
