// What '#snappy-wasm' and '#lz4-wasm' resolve to under the workerd/worker conditions (package.json "imports"): Workers
// cannot compile WebAssembly from bytes, so their bundles leave the bytes out and snappy.ts / lz4.ts compress with
// their TypeScript matchers.
export function wasmBytes(): Uint8Array | null {
  return null
}
