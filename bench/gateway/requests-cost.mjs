#!/usr/bin/env node
// Runs requests-cost.ts (the gateway's CPU a record, in one process, against the bench sink): bundles it with esbuild
// against a checkout (--root, default this one: its adapters/ are measured), starts the sink, runs the rounds and
// prints each and the median. With --against OTHER_CHECKOUT both are run, interleaved, and the ratio printed.
//
//   node bench/gateway/requests-cost.mjs [--records-per-frame 100] [--frames 30000] [--window 4000]
//        [--connections 1000] [--rounds 3] [--against /tmp/old]
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { BENCH_CACHE, startSink } from '../lib/tools.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const { values: a } = parseArgs({
  options: {
    'records-per-frame': { type: 'string', default: '100' },
    frames: { type: 'string' },
    window: { type: 'string', default: '4000' },
    connections: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    root: { type: 'string', default: path.resolve(HERE, '../..') },
    against: { type: 'string' },
  },
})
const perFrame = Number(a['records-per-frame'])
const frames = Number(a.frames ?? Math.round(3_000_000 / perFrame))

/** The measurement bundled against `root`'s sources (requests-cost.ts's relative imports resolve there). */
async function bundle(root, name) {
  const outfile = path.join(BENCH_CACHE, `requests-cost-${name}.mjs`)
  fs.mkdirSync(BENCH_CACHE, { recursive: true })
  await build({
    stdin: {
      contents: fs.readFileSync(path.join(HERE, 'requests-cost.ts'), 'utf8'),
      resolveDir: path.join(root, 'bench', 'gateway'),
      loader: 'ts',
      sourcefile: 'requests-cost.ts',
    },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['ws', 'bufferutil', 'utf-8-validate'],
    nodePaths: [path.join(HERE, '../../node_modules')],
    logLevel: 'error',
  })
  return outfile
}

const sides = [{ name: 'this', file: await bundle(path.resolve(a.root), 'this') }]
if (a.against) sides.push({ name: 'against', file: await bundle(path.resolve(a.against), 'against') })
const { child: sink, port } = await startSink(6)
try {
  const runs = Object.fromEntries(sides.map((s) => [s.name, []]))
  for (let round = 1; round <= Number(a.rounds); round++) {
    for (const s of round % 2 ? sides : [...sides].reverse()) {
      const args = [s.file, port, frames, a.window, a.connections, perFrame].map(String)
      const r = spawnSync(process.execPath, args, { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`${s.name}: ${r.stderr || r.stdout}`)
      const out = JSON.parse(r.stdout.trim().split('\n').pop())
      runs[s.name].push(out.cpuUsPerRecord)
      console.log(
        `round ${round} ${s.name.padEnd(7)} ${out.cpuUsPerRecord.toFixed(3)} CPU-µs a record, ${out.recordsPerSec.toLocaleString('en-US')} records/s`,
      )
    }
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
  for (const s of sides) console.log(`${s.name}: median ${median(runs[s.name]).toFixed(3)} CPU-µs a record`)
  if (a.against) console.log(`this ÷ against: ${(median(runs.this) / median(runs.against)).toFixed(3)}`)
} finally {
  sink.kill('SIGTERM')
}
