#!/usr/bin/env node
// What N outstanding promises cost the JavaScript engine alone, with no Kafka client at all: the floor under the
// issue-18 "Promise.all of 1,000,000 send() calls" shape. Each variant makes N promises in one synchronous loop, holds
// them in one Promise.all, and settles each with an object shaped like RecordMetadata (what send() resolves to).
//
//   node bench/promise-floor.mjs [--records 1000000] [--variants resolvers,reactions,window-4k,window-64k]
//
//   resolvers   new Promise() per record; its resolve function is kept and called later (what a promise API that
//               settles each record on its own needs at least)
//   reactions   one promise per 1,000 records, and per record `batchPromise.then(take)` (what isokafka's send()
//               does for a record that goes straight into a batch)
//   window-N    a sliding window of N outstanding promises (N = 1k ... 64k), as the window shapes of
//               bench/api-shapes.mjs keep: each gets a `.then` as application code adds, and they settle in groups
//               of 100 one macrotask later (an "ack"); reports ns per promise
//
// Each variant runs in a child process of its own; prints the peak RSS, the time, and the share of it in GC.
import { spawnSync } from 'node:child_process'
import { PerformanceObserver } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { slidingWindow } from './lib/window.mjs'

const { values: a } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    variants: { type: 'string', default: 'resolvers,reactions,window-4k,window-64k' },
    child: { type: 'string' },
  },
})

if (a.child) {
  const N = Number(a.records)
  let gcMs = 0
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration
  })
  obs.observe({ entryTypes: ['gc'] })
  let peak = 0
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10)
  const idle = process.memoryUsage.rss()
  const t0 = performance.now()
  const promises = new Array(N)
  const meta = (i) => ({ topic: 'floor', partition: i % 6, offset: i, timestamp: Date.now() })
  if (a.child === 'resolvers') {
    const resolvers = new Array(N)
    for (let i = 0; i < N; i++) promises[i] = new Promise((resolve) => (resolvers[i] = resolve))
    await new Promise((r) => setTimeout(r, 20)) // "the acks come later"
    for (let i = 0; i < N; i++) resolvers[i](meta(i))
  } else if (a.child === 'reactions') {
    const settle = []
    const batches = []
    for (let b = 0; b < Math.ceil(N / 1000); b++) batches.push(new Promise((resolve) => settle.push(resolve)))
    let next = 0
    const take = () => meta(next++)
    for (let i = 0; i < N; i++) promises[i] = batches[(i / 1000) | 0].then(take)
    await new Promise((r) => setTimeout(r, 20))
    for (const s of settle) s()
  } else if (a.child.startsWith('window-')) {
    await promiseWindow(N, Number.parseInt(a.child.slice(7), 10) * 1024, meta)
    promises.fill(null)
  } else throw new Error(`unknown variant ${a.child}`)
  const results = a.child.startsWith('window-') ? promises : await Promise.all(promises)
  const ms = performance.now() - t0
  peak = Math.max(peak, process.memoryUsage.rss())
  clearInterval(sample)
  await new Promise((r) => setTimeout(r, 10))
  obs.disconnect()
  if (results.length !== N) throw new Error('lost a result')
  console.log(
    JSON.stringify({ variant: a.child, records: N, ms, gcMs, idleRssMb: idle / 2 ** 20, peakRssMb: peak / 2 ** 20 }),
  )
} else {
  console.log(`${Number(a.records).toLocaleString('en-US')} promises per variant, no Kafka client:`)
  for (const variant of a.variants.split(',')) {
    const r = spawnSync(
      process.execPath,
      [new URL(import.meta.url).pathname, '--child', variant, '--records', a.records],
      {
        encoding: 'utf8',
      },
    )
    if (r.status !== 0) throw new Error(r.stderr)
    const j = JSON.parse(r.stdout.trim().split('\n').pop())
    console.log(
      `${variant.padEnd(10)} ${Math.round(j.ms)} ms (GC ${Math.round(j.gcMs)} ms), ${Math.round((j.ms * 1e6) / j.records)} ns a promise, peak RSS ${Math.round(j.peakRssMb)} MB (idle ${Math.round(j.idleRssMb)} MB)`,
    )
  }
}

/** N promises through a window of `window` outstanding; each settled by its own resolve, 100 at a time, a macrotask later. */
async function promiseWindow(N, window, meta) {
  let pending = []
  let queued = false
  const ack = () => {
    queued = false
    const p = pending
    pending = []
    for (let i = 0; i < p.length; i++) p[i](meta(i))
  }
  const w = slidingWindow(window)
  for (let i = 0; i < N; i++) {
    w.add()
    new Promise((resolve) => pending.push(resolve)).then(w.settle)
    if (!queued && pending.length >= 100) {
      queued = true
      setImmediate(ack)
    }
    if (w.full()) await w.room()
  }
  while (w.outstanding > 0) {
    if (!queued) ack()
    await new Promise((r) => setImmediate(r))
  }
}
