import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    node: 'adapters/node-tcp/index.ts',
    workers: 'adapters/workers-socket/index.ts',
    websocket: 'adapters/websocket/index.ts',
    fetch: 'adapters/fetch/index.ts',
    outbox: 'adapters/outbox/index.ts',
    gateway: 'adapters/gateway/index.ts',
    testing: 'src/testing/index.ts',
    'testing-node': 'adapters/testing-node/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  removeNodeProtocol: false,
  external: [/^node:/, /^cloudflare:/, 'ws', '@msgpack/msgpack'],
  treeshake: true,
  splitting: true,
})
