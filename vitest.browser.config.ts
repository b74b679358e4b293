import { defineConfig } from 'vitest/config'
import { playwright } from '@vitest/browser-playwright'
import { browserCommands } from './test/setup/gateway-global-setup.js'

// Tests that run inside real Chromium (Debian's /usr/bin/chromium, never a downloaded browser):
// `npx vitest run -c vitest.browser.config.ts`. The kafka global setup starts (or reuses) the broker, the gateway
// global setup starts a gateway that allows this server's origin. Browser code reaches Node through commands:
// `commands.createTopic(name, partitions)` and `commands.readTopic(name, expectedCount)` (kcat read-back, hex).
// Tests that drive Chromium from Node with Playwright (the web-app example, the outbox end to end) are in test/contract.
export default defineConfig({
  test: {
    name: 'browser',
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/setup/kafka-global-setup.ts', 'test/setup/gateway-global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // failure screenshots and attachments go with the other test output (gitignored), not next to the tests
    attachmentsDir: 'test-results/vitest-attachments',
    browser: {
      screenshotDirectory: 'test-results/browser-screenshots',
      enabled: true,
      headless: true,
      provider: playwright({
        launchOptions: {
          executablePath: process.env.CHROME_BIN ?? '/usr/bin/chromium',
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--disable-quic',
          ],
        },
      }),
      instances: [{ browser: 'chromium' }],
      commands: browserCommands,
    },
  },
})
