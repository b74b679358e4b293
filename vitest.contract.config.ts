import { defineConfig } from 'vitest/config'

// The producer contract in Node (test/contract/node.test.ts: Node TCP, WebSocket → gateway, fetch → gateway) and the
// web-app example and the outbox end to end, driven from Node by Playwright in Chromium (test/contract/web-app.test.ts,
// test/contract/outbox-e2e.test.ts).
// `npx vitest run -c vitest.contract.config.ts`. The broker comes from the kafka global setup (or KAFKA_BOOTSTRAP),
// the gateway from the gateway global setup (which needs the broker, so it comes second).
// The same contract runs in Chromium (vitest.browser.config.ts) and in workerd (vitest.workers.config.ts).
export default defineConfig({
  test: {
    name: 'contract',
    include: ['test/contract/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/setup/kafka-global-setup.ts', 'test/setup/gateway-global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
})
