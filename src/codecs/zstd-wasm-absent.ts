// What '#zstd-wasm' resolves to under the workerd/worker conditions (package.json "imports"): Workers cannot compile
// WebAssembly from bytes, so their bundles leave the 330 KB of embedded bytes out and zstd.ts reports how to pass the
// module instead.
export function zstdWasmBytes(): Uint8Array {
  throw new Error(
    "this runtime takes zstd's WebAssembly as a module: import wasm from 'isokafka/zstd.wasm' and pass compression: zstd({ wasm })",
  )
}
