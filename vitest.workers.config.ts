import { defineConfig } from 'vitest/config'

// isokafka inside workerd (Cloudflare Workers): `npx vitest run -c vitest.workers.config.ts` (npm run test:workers).
// Node-side tests drive Miniflare; the Workers run in a real workerd process against the broker of the globalSetup
// (or KAFKA_BOOTSTRAP; add KAFKA_SASL_BOOTSTRAP, KAFKA_TLS_BOOTSTRAP and KAFKA_TLS_CA for the SASL and TLS cases).
// Usable as a project of the root config too: projects: [..., './vitest.workers.config.ts'].
export default defineConfig({
  test: {
    name: 'workers',
    include: ['test/workers/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/setup/kafka-global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
})
