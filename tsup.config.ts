import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    node: 'adapters/node-tcp/index.ts',
    workers: 'adapters/workers-socket/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  removeNodeProtocol: false,
  external: [/^node:/, /^cloudflare:/, 'ws'],
  treeshake: true,
  splitting: true,
})
