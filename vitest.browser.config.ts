import { defineConfig } from 'vitest/config'
import { playwright } from '@vitest/browser-playwright'

// Tests that run inside real Chromium (Debian's /usr/bin/chromium, never a downloaded browser).
export default defineConfig({
  test: {
    name: 'browser',
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/setup/kafka-global-setup.ts', 'test/setup/gateway-global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({
        launchOptions: {
          executablePath: process.env.CHROME_BIN ?? '/usr/bin/chromium',
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
        },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
})
