import { copyFileSync } from 'node:fs'
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
    zstd: 'src/codecs/zstd.ts',
    'zstd-wasm': 'src/codecs/zstd-wasm.ts',
    'zstd-wasm-absent': 'src/codecs/zstd-wasm-absent.ts',
    'snappy-wasm': 'src/codecs/snappy-wasm.ts',
    'lz4-wasm': 'src/codecs/lz4-wasm.ts',
    'wasm-absent': 'src/codecs/wasm-absent.ts',
    cli: 'adapters/cli/index.ts',
    otel: 'adapters/otel/index.ts',
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
  esbuildPlugins: [
    {
      // zstd.ts, snappy.ts and lz4.ts load their embedded WebAssembly through '#<codec>-wasm' in the package
      // (package.json "imports"): the bytes in Node and browsers, a stub under the workerd/worker conditions, so Worker
      // bundles do not carry base64 they cannot compile (330 KB for zstd)
      name: 'wasm-imports',
      setup(b) {
        b.onResolve({ filter: /^\.\/(zstd|snappy|lz4)-wasm\.js$/ }, (args) =>
          args.kind === 'dynamic-import' ? { path: `#${args.path.slice(2, -3)}`, external: true } : undefined,
        )
      },
    },
  ],
  // the zstd WebAssembly as a file too, for runtimes that import modules rather than compile bytes (Workers)
  onSuccess: async () => copyFileSync('src/codecs/zstd.wasm', 'dist/zstd.wasm'),
})
