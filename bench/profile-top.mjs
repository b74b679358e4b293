#!/usr/bin/env node
// Top self-time functions of a V8 .cpuprofile (from `npm run bench -- --cpu-prof ...`, which writes them to
// $TMPDIR/isokafka-bench-prof/): node bench/profile-top.mjs FILE.cpuprofile [N]
import fs from 'node:fs'
import path from 'node:path'

const file = process.argv[2]
const top = Number(process.argv[3] ?? 25)
if (!file) {
  process.stderr.write('usage: node bench/profile-top.mjs FILE.cpuprofile [N]\n')
  process.exit(2)
}
const prof = JSON.parse(fs.readFileSync(file, 'utf8'))
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const self = new Map()
// samples[i] ran for timeDeltas[i+1]... V8 puts the delta before each sample: attribute delta i to sample i
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i]
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
}
const byFunction = new Map()
let total = 0
for (const [id, us] of self) {
  const n = byId.get(id)
  const cf = n.callFrame
  const where = cf.url ? `${path.basename(cf.url.replace(/^file:\/\//, ''))}:${cf.lineNumber + 1}` : ''
  const key = `${cf.functionName || '(anonymous)'} ${where}`.trim()
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  total += us
}
const rows = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`)
for (const [k, us] of rows)
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`)
