#!/usr/bin/env node
// isokafka (the built package, over Node TCP) as one benchmark producer process; started by bench/run.mjs.
// config.api:
//   produce  produce(record, callback) per record, as ProducerPerformance calls Java's send(record, callback); when
//            produce() returns false (the buffer is full, where Java's send() blocks, or the producer asks for a turn
//            for its sender, which in one thread runs only while the loop awaits) the loop awaits ready()
//   send     send() per record without awaiting it, at most `window` sends unsettled (a sliding window)
// config.callback (api produce, throughput mode):
//   shared   one callback for every record (how a hot loop calls produce()); send→ack latency is the callback's
//            Date.now() (read once per burst of callbacks delivered together) minus the record's CreateTime from its
//            metadata: whole milliseconds, as ProducerPerformance measures (franz-go's program does the same with the
//            record's timestamp)
//   closure  a new closure per record that keeps performance.now() at the call (sub-ms latency, ~0.4 µs more per
//            record in the benchmark process: the closure, two clock reads, and GC of closures alive until acked)
// config.transport: 'tcp' (default: Node TCP straight to Kafka), or 'websocket' / 'fetch' through an isokafka gateway
// at config.gatewayUrl with config.token (the gateway benchmark's single-client runs: the same loop, the same records)
// config.producerOptions: more createProducer() options, over the ones above (the gateway bench's --single-options)
// config.codec / config.payloadFile (the codec scenarios): compression, and values taken from the file (one per line,
// cycled) instead of a fixed `size`-byte value
// Modes (config.mode):
//   throughput  as fast as the API allows; send→ack latency per record (performance.now() at the call and in the
//               callback / when the promise resolves)
//   paced       `rate` records/s (the latency scenario: like ProducerPerformance --throughput)
//   memory      idle RSS vs peak RSS while 1M records go through a 32 MiB buffer: produce() as fast as it takes
//               them (api produce), or every send() queued at once with no window (api send)
import { readFileSync } from 'node:fs'
import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'
import {
  cpuSecondsSince,
  fail,
  finish,
  latencySummary,
  payload,
  readConfig,
  resetPeakRss,
  rssNow,
  sleep,
} from '../lib/child.mjs'

const c = readConfig()
const N = c.records
const acks = c.acks === 'all' || c.acks === -1 ? 'all' : Number(c.acks)

try {
  const producer = createProducer({
    transport: await transportFor(c),
    acks,
    enableIdempotence: acks === 'all' && Boolean(c.idempotent),
    lingerMs: c.lingerMs,
    batchSize: c.batchSize,
    bufferMemory: c.bufferMemory,
    compression: c.codec ?? 'none',
    ...(c.producerOptions ?? {}),
  })
  // warm up: connection and topic metadata before the clock starts (as ProducerPerformance's first send does)
  await producer.partitionsFor(c.topic)
  const value = payload(c.size)
  const values = c.payloadFile
    ? readFileSync(c.payloadFile, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => Buffer.from(l))
    : null
  const nv = values?.length ?? 1
  const rawValueBytes = values
    ? Array.from({ length: N }, (_, i) => values[i % nv].length).reduce((a, b) => a + b, 0)
    : N * c.size
  const topic = c.topic

  let acked = 0
  let failed = 0
  let firstError = null
  let allDone
  const done = new Promise((resolve) => (allDone = resolve))
  let extra = {}
  let unfinished = false

  const cpu0 = process.cpuUsage()
  let start
  let lat = null
  if (c.mode === 'memory') {
    globalThis.gc?.()
    globalThis.gc?.()
    await sleep(200)
    const idle = rssNow().rss
    resetPeakRss()
    const samples = []
    const sampler = setInterval(() => samples.push(rssNow().rss), 20)
    const onOk = () => {
      if (++acked + failed === N) allDone()
    }
    const onErr = (e) => {
      firstError ??= e
      if (acked + ++failed === N) allDone()
    }
    start = performance.now()
    if (c.api === 'produce') {
      const onDelivery = (err) => (err ? onErr(err) : onOk())
      for (let i = 0; i < N; i++) if (!producer.produce({ topic, value }, onDelivery)) await producer.ready()
    } else {
      for (let i = 0; i < N; i++) producer.send({ topic, value }).then(onOk, onErr)
    }
    const queuedMs = performance.now() - start
    const afterQueue = rssNow().rss
    // the figure is the peak RSS; do not wait forever for the drain (config.maxSeconds, default 60)
    const finished = await Promise.race([done.then(() => true), sleep((c.maxSeconds ?? 60) * 1000).then(() => false)])
    clearInterval(sampler)
    if (!finished) {
      firstError ??= `only ${acked.toLocaleString('en')} of ${N.toLocaleString('en')} acknowledged (${failed} failed) within ${c.maxSeconds ?? 60} s`
      unfinished = true
    }
    const peak = Math.max(rssNow().hwm, ...samples)
    extra = {
      idleRssBytes: idle,
      memPeakRssBytes: peak,
      rssOverIdleBytes: peak - idle,
      rssAfterQueueingBytes: afterQueue,
      queueingMs: queuedMs,
      heapUsedBytes: process.memoryUsage().heapUsed,
    }
  } else {
    lat = new Float64Array(N).fill(-1)
    let outstanding = 0
    let resume = null
    const lowWater = Math.floor(c.window * 0.75)
    // produce(): one shared callback, or (callback 'closure', and the paced runs) a closure per record, as
    // ProducerPerformance makes one callback object per record
    let n = 0 // records acknowledged so far (shared callback: latencies fill lat in ack order)
    // The records of one response are called back together, in one synchronous pass: read the clock once per pass
    // (a microtask marks the end of it) rather than once per record, as franz-go's promises are timed on their own
    // goroutine. A pass takes well under a millisecond, the resolution of the timestamps.
    let ackNow = -1
    const endPass = () => (ackNow = -1)
    const sharedCallback = (err, meta) => {
      if (err) {
        firstError ??= err
        if (acked + ++failed === N) allDone()
        return
      }
      if (ackNow < 0) {
        ackNow = Date.now()
        queueMicrotask(endPass)
      }
      lat[n++] = ackNow - meta.timestamp
      if (++acked + failed === N) allDone()
    }
    const closures = c.callback === 'closure' || c.rate > 0
    const produce = (i) => {
      if (!closures) return producer.produce({ topic, value: values === null ? value : values[i % nv] }, sharedCallback)
      const t = performance.now()
      return producer.produce({ topic, value: values === null ? value : values[i % nv] }, (err) => {
        if (err) {
          firstError ??= err
          if (acked + ++failed === N) allDone()
          return
        }
        lat[i] = performance.now() - t
        if (++acked + failed === N) allDone()
      })
    }
    const send = (i) => {
      const t = performance.now()
      outstanding++
      producer.send({ topic, value: values === null ? value : values[i % nv] }).then(
        () => {
          lat[i] = performance.now() - t
          outstanding--
          if (resume !== null && outstanding <= lowWater) {
            const r = resume
            resume = null
            r()
          }
          if (++acked + failed === N) allDone()
        },
        (e) => {
          firstError ??= e
          outstanding--
          if (resume !== null) {
            const r = resume
            resume = null
            r()
          }
          if (acked + ++failed === N) allDone()
        },
      )
    }
    start = performance.now()
    if (c.api === 'produce') {
      let i = 0
      while (i < N) {
        const due = c.rate > 0 ? Math.min(N, Math.floor(((performance.now() - start) * c.rate) / 1000) + 1) : N
        while (i < due) if (!produce(i++)) await producer.ready()
        if (i < N) await sleep(1)
      }
    } else if (c.rate > 0) {
      // paced: never ahead of rate × elapsed (1 ms timer steps, so small bursts, as Java's throttler sleeps)
      let i = 0
      while (i < N) {
        const due = Math.min(N, Math.floor(((performance.now() - start) * c.rate) / 1000) + 1)
        while (i < due) send(i++)
        if (i < N) await sleep(1)
      }
    } else {
      for (let i = 0; i < N; i++) {
        send(i)
        if (outstanding >= c.window) await new Promise((r) => (resume = r))
      }
    }
    if (N === 0) allDone()
    await done
  }
  const seconds = (performance.now() - start) / 1000
  const phaseCpuSeconds = cpuSecondsSince(cpu0)
  if (!unfinished) await producer.close()
  finish({
    client: 'isokafka',
    callback:
      c.api === 'produce' && c.mode !== 'memory'
        ? c.callback === 'closure' || c.rate > 0
          ? 'closure'
          : 'shared'
        : undefined,
    records: N,
    acked,
    failed,
    firstError: firstError ? String(firstError?.code ?? '') + ' ' + String(firstError?.message ?? firstError) : null,
    seconds,
    recordsPerSec: unfinished ? acked / seconds : N / seconds,
    mbPerSec: (unfinished ? (acked / N) * rawValueBytes : rawValueBytes) / seconds / 1e6,
    rawValueBytes,
    latencyMs: lat ? latencySummary(lat) : null,
    unfinished,
    phaseCpuSeconds,
    ...extra,
  })
} catch (err) {
  fail('isokafka', err)
}

async function transportFor(c) {
  if (!c.transport || c.transport === 'tcp') return tcp({ bootstrap: c.bootstrap, clientId: 'isokafka-bench' })
  if (c.transport === 'websocket') {
    const [{ websocket }, { default: WebSocket }] = await Promise.all([import('isokafka/websocket'), import('ws')])
    return websocket({
      url: c.gatewayUrl.replace(/^http/, 'ws') + '/v1/ws',
      token: c.token,
      WebSocket,
      tokenIn: 'protocol',
    })
  }
  if (c.transport === 'fetch') {
    const { fetchTransport } = await import('isokafka/fetch')
    return fetchTransport({ url: c.gatewayUrl, token: c.token })
  }
  throw new Error(`unknown transport ${c.transport}`)
}
