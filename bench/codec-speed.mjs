#!/usr/bin/env node
// The codecs alone, no broker: MB/s of CPU time and compressed/raw over 16 KiB batches of the codec scenarios' JSON
// events (bench/lib/scenarios.mjs), for isokafka's snappy, lz4, zstd (level 3) and gzip, and for the npm libraries
// weighed against them (snappyjs, lz4js) when they can be required here or from the current directory (`npm i --no-save snappyjs lz4js`).
// The figures behind docs/architecture.md's "Codecs" table.   node bench/codec-speed.mjs [--rounds 5] [--only snappy,lz4]
// Each round is timed on its own (process CPU time): the median is the figure; the best round is what the codec does
// when nothing else competes for the core (on a shared machine, rounds differ by up to 1.5x). CPU-s/M is CPU seconds
// per million of the scenarios' records (609 B mean), comparable with the benchmark's CPU column.
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { eventPayloads } from './lib/scenarios.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : null

// the sources, bundled for Node (the codecs are TypeScript)
const out = await build({
  stdin: {
    contents: `export { snappyCompress, snappyCompressTs, loadSnappyWasm } from './src/codecs/snappy.ts'\nexport { lz4Compress, lz4CompressTs, loadLz4Wasm } from './src/codecs/lz4.ts'\nexport { zstd } from './src/codecs/zstd.ts'\nexport { gzip } from './src/compression.ts'\n`,
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  format: 'esm',
  platform: 'node',
  write: false,
  logLevel: 'silent',
})
const codecs = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`)

const enc = new TextEncoder()
const batches = []
let cur = []
let len = 0
for (const line of eventPayloads()) {
  cur.push(line)
  len += line.length
  if (len >= 16384) {
    batches.push(enc.encode(cur.join('')))
    cur = []
    len = 0
  }
}
const total = batches.reduce((n, b) => n + b.length, 0)

const z = codecs.zstd({ level: 3 })
// snappyCompress / lz4Compress are snappy.c's / lz4.c's WebAssembly once loaded (Node, browsers); *Ts the TypeScript
// (Workers)
if (!(await codecs.loadSnappyWasm()) || !(await codecs.loadLz4Wasm()))
  throw new Error('a WebAssembly matcher did not load')
const candidates = [
  ['isokafka snappy (wasm)', (b) => codecs.snappyCompress(b)],
  ['isokafka snappy (TS)', (b) => codecs.snappyCompressTs(b)],
  ['isokafka lz4 (wasm)', (b) => codecs.lz4Compress(b)],
  ['isokafka lz4 (TS)', (b) => codecs.lz4CompressTs(b)],
  ['isokafka zstd 3', (b) => z.compress(b)],
  ['gzip (CompressionStream)', (b) => codecs.gzip.compress(b)],
]
for (const [name, spec, fn] of [
  ['snappyjs', 'snappyjs', (m) => (b) => new Uint8Array(m.compress(b))],
  ['lz4js', 'lz4js', (m) => (b) => m.compress(b)],
]) {
  try {
    // CommonJS packages, from the repo or from the current directory's node_modules
    let m
    try {
      m = createRequire(import.meta.url)(spec)
    } catch {
      m = createRequire(path.join(process.cwd(), 'index.js'))(spec)
    }
    candidates.push([name, fn(m)])
  } catch {
    process.stderr.write(`(${name} not installed: skipped)\n`)
  }
}

console.log(
  `${batches.length} batches of ~16 KiB (${(total / 1e6).toFixed(1)} MB), ${rounds} rounds after 2 warm-up rounds; MB/s of CPU time (median, best round)`,
)
const MEAN_RECORD = 609
for (const [name, f] of candidates) {
  if (only && !only.some((o) => name.includes(o))) continue
  for (let w = 0; w < 2; w++) for (const b of batches) await f(b)
  const speeds = []
  let bytes = 0
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage()
    bytes = 0
    for (const b of batches) bytes += (await f(b)).length
    const c = process.cpuUsage(c0)
    speeds.push(total / 1e6 / ((c.user + c.system) / 1e6))
  }
  speeds.sort((a, b) => a - b)
  const median = speeds[speeds.length >> 1]
  const best = speeds[speeds.length - 1]
  console.log(
    `${name.padEnd(26)} ${median.toFixed(0).padStart(5)} MB/s (best ${best.toFixed(0).padStart(4)})   ${(MEAN_RECORD / median).toFixed(2).padStart(5)} CPU-s/M records   compressed/raw ${(bytes / total).toFixed(3)}`,
  )
}
