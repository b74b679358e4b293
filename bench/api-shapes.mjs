#!/usr/bin/env node
// How fast each way of calling the producer goes, client-bound: isokafka (dist/) over Node TCP against the bench's
// sink (bench/sink/sink.ts, a fake broker that acks at once), so the figure is the client's own cost per record.
// Each shape sends N records of `size` bytes to a 6-partition topic (acks=all, idempotent, linger 5 ms, batch 16 KiB)
// and reports records/s and the ratio to the produce() loop measured in the same run (issue 18's goals are ratios).
//
//   node bench/api-shapes.mjs [--records 1000000] [--rounds 3] [--shapes produce,batch,...]
// `npm run bench` runs it too (runShapes), after the broker scenarios, and puts the table in docs/benchmarks.md.
//
// Shapes:
//   produce      produce(record, callback) with one shared callback, `await ready()` when it returns false
//   window-4k    send() per record, at most 4,096 unsettled (a sliding window); window-1k, window-16k, window-64k
//   all          await Promise.all of every send() made in one synchronous loop
//   batch        sendBatch() of 1,000 records, 8 calls outstanding (the KafkaJS habit)
//   handlers     100 concurrent "request handlers", each awaiting its own send() in turn
//   for-await    for await over an async generator of records, send() without awaiting, window 4,096
import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { startSink } from './lib/tools.mjs'
import { slidingWindow } from './lib/window.mjs'

const DEFAULT_SHAPES = ['produce', 'window-4k', 'all', 'batch', 'handlers', 'for-await']

// run as a script (not when bench/run.mjs imports runShapes)
if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const { values: a } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      size: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '3' },
      shapes: { type: 'string', default: DEFAULT_SHAPES.join(',') },
      child: { type: 'string' },
    },
  })
  if (a.child) await runChild(JSON.parse(a.child))
  else {
    const out = await runShapes({
      records: Number(a.records),
      size: Number(a.size),
      rounds: Number(a.rounds),
      shapes: a.shapes.split(','),
      log: (line) => console.log(line),
    })
    console.log('\nshape       median rec/s   ÷ produce()   max peak RSS')
    for (const [shape, r] of Object.entries(out.shapes)) {
      console.log(
        `${shape.padEnd(10)} ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(12)}   ${r.ratioToProduce !== null ? r.ratioToProduce.toFixed(2).padStart(10) : '         -'}   ${String(r.peakRssMb).padStart(8)} MB`,
      )
    }
  }
}

/**
 * Every shape `rounds` times against one sink, in turn; per shape: the median records/s, its ratio to produce()'s
 * median (null without a produce() run), the largest peak RSS, and each round. Also what `npm run bench` runs.
 */
export async function runShapes({
  records = 1_000_000,
  size = 100,
  rounds = 3,
  shapes = DEFAULT_SHAPES,
  log = () => {},
}) {
  const { child: sink, port } = await startSink(6)
  const results = Object.fromEntries(shapes.map((s) => [s, []]))
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const shape of shapes) {
        const r = await child({ shape, port, records, size, round })
        results[shape].push(r)
        log(
          `round ${round} ${shape.padEnd(10)} ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(10)} rec/s  CPU ${r.cpuSeconds.toFixed(2)} s  peak RSS ${r.peakRssMb} MB`,
        )
      }
    }
  } finally {
    sink.kill('SIGTERM')
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
  const base = results.produce ? median(results.produce.map((r) => r.recordsPerSec)) : null
  const out = { records, size, rounds, shapes: {} }
  for (const shape of shapes) {
    const m = median(results[shape].map((r) => r.recordsPerSec))
    out.shapes[shape] = {
      recordsPerSec: m,
      ratioToProduce: base ? m / base : null,
      peakRssMb: Math.max(...results[shape].map((r) => r.peakRssMb)),
      rounds: results[shape],
    }
  }
  return out
}

function child(config) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child', JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${config.shape} exited with ${code}`))
      resolve(JSON.parse(out.trim().split('\n').pop()))
    })
  })
}

async function runChild(c) {
  const { createProducer } = await import('isokafka')
  const { tcp } = await import('isokafka/node')
  const topic = `shapes-${c.shape}-${c.round}`
  const producer = createProducer({
    transport: tcp({ bootstrap: `127.0.0.1:${c.port}`, clientId: 'shapes' }),
    acks: 'all',
    lingerMs: 5,
    batchSize: 16384,
  })
  await producer.partitionsFor(topic)
  const value = new Uint8Array(c.size).fill(120)
  const N = c.records
  const record = () => ({ topic, value })
  let peakRss = 0
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let failed = 0
  const onError = () => failed++
  if (c.shape === 'produce') {
    let acked = 0
    let resolveDone
    const done = new Promise((r) => (resolveDone = r))
    const cb = (err) => {
      if (err) failed++
      if (++acked === N) resolveDone()
    }
    for (let i = 0; i < N; i++) if (!producer.produce(record(), cb)) await producer.ready()
    await done
  } else if (c.shape.startsWith('window-') || c.shape === 'for-await') {
    const window = c.shape === 'for-await' ? 4096 : Number.parseInt(c.shape.slice(7), 10) * 1024
    const w = slidingWindow(window)
    const source =
      c.shape === 'for-await'
        ? (async function* () {
            for (let i = 0; i < N; i++) yield record()
          })()
        : null
    const sendOne = (r) => {
      w.add()
      producer.send(r).then(w.settle, (e) => {
        onError(e)
        w.settle()
      })
    }
    if (source) {
      for await (const r of source) {
        sendOne(r)
        if (w.full()) await w.room()
      }
    } else {
      for (let i = 0; i < N; i++) {
        sendOne(record())
        if (w.full()) await w.room()
      }
    }
    await producer.flush()
  } else if (c.shape === 'all') {
    const sends = new Array(N)
    for (let i = 0; i < N; i++) sends[i] = producer.send(record())
    await Promise.all(sends).catch(onError)
  } else if (c.shape === 'batch') {
    const size = 1000
    let next = 0
    const worker = async () => {
      while (next < N) {
        const n = Math.min(size, N - next)
        next += n
        const batch = new Array(n)
        for (let i = 0; i < n; i++) batch[i] = record()
        await producer.sendBatch(batch).catch(onError)
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
  } else if (c.shape === 'handlers') {
    let next = 0
    const handler = async () => {
      while (next++ < N) await producer.send(record()).catch(onError)
    }
    await Promise.all(Array.from({ length: 100 }, handler))
  } else throw new Error(`unknown shape ${c.shape}`)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  clearInterval(rssTimer)
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  await producer.close()
  if (failed > 0) throw new Error(`${failed} sends failed`)
  console.log(
    JSON.stringify({
      recordsPerSec: N / seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssMb: Math.round(peakRss / 2 ** 20),
    }),
  )
}
