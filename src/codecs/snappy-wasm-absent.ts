// What '#snappy-wasm' resolves to under the workerd/worker conditions (package.json "imports"): Workers cannot compile
// WebAssembly from bytes, so their bundles leave the bytes out and snappy.ts compresses with its TypeScript matcher.
export function snappyWasmBytes(): Uint8Array | null {
  return null
}
