#!/usr/bin/env node
// @platformatic/kafka as one benchmark producer process; started by bench/run.mjs under Node 22 (the package needs
// Node >= 22), from a cache dir outside the repo (config.platformaticDir, see bench/lib/tools.mjs).
// Like KafkaJS it has no linger/batch.size accumulator in send(): one call is one Produce request per broker, so a call
// carries about 256 KiB of records (see below), and up to 5 calls are outstanding without idempotence.
// With idempotence, ONE call at a time: this client advances a partition's sequence number only when a call's response
// arrives, so concurrent calls reuse sequence numbers and the broker drops the later batches as duplicates while the
// client reports them acknowledged (the bench's offset check saw 46,856 of 50,000 records stored, all "acked", with 5
// concurrent calls). Its own option handling also forces maxInflights = 1 when idempotent.
// Latency: each record gets the latency of its call.
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { cpuSecondsSince, fail, finish, latencySummary, payload, readConfig } from '../lib/child.mjs'

const c = readConfig()
const N = c.records
const acks = c.acks === 'all' || c.acks === -1 ? -1 : Number(c.acks)
const idempotent = acks === -1 && Boolean(c.idempotent)
// ~256 KiB of records per call, whatever the scenario's batch size (the client has no such setting): in a sweep on
// this machine (100 B records: 786 / 2,048 / 8,192 / 50,556 per call; 1 KiB: 84 / 252 / 1,000 / 5,460) calls of
// 200 KB–1 MB were the fastest; much larger calls get slower (one huge request at a time), smaller ones pay per call.
const perCall = c.perCall ?? Math.max(1, Math.floor((256 * 1024) / (c.size + 12)))
const inFlight = c.inFlight ?? (idempotent ? 1 : 5)

try {
  const entry = path.join(c.platformaticDir, 'node_modules', '@platformatic', 'kafka', 'dist', 'index.js')
  const { Producer } = await import(pathToFileURL(entry).href)
  const producer = new Producer({
    clientId: 'platformatic-bench',
    bootstrapBrokers: c.bootstrap.split(','),
    idempotent,
    acks,
    autocreateTopics: false,
  })
  const value = Buffer.from(payload(c.size))
  const topic = c.topic
  // warm up: metadata and connection before the clock starts
  await producer.metadata({ topics: [topic] })
  const lat = new Float64Array(N).fill(-1)
  let acked = 0
  let failed = 0
  let firstError = null

  const cpu0 = process.cpuUsage()
  const start = performance.now()
  let next = 0
  async function lane() {
    while (next < N) {
      const from = next
      const n = Math.min(perCall, N - from)
      next += n
      const messages = new Array(n)
      for (let i = 0; i < n; i++) messages[i] = { topic, value }
      const t = performance.now()
      try {
        await producer.send({ messages, acks })
        lat.fill(performance.now() - t, from, from + n)
        acked += n
      } catch (e) {
        firstError ??= e
        failed += n
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  const seconds = (performance.now() - start) / 1000
  const phaseCpuSeconds = cpuSecondsSince(cpu0)
  await producer.close()
  finish({
    client: 'platformatic',
    records: N,
    acked,
    failed,
    firstError: firstError
      ? String(firstError.message ?? firstError) +
        (firstError.errors ? ' ' + firstError.errors.map((e) => e.message).join('; ') : '')
      : null,
    seconds,
    recordsPerSec: N / seconds,
    mbPerSec: (N * c.size) / seconds / 1e6,
    latencyMs: latencySummary(lat),
    phaseCpuSeconds,
    messagesPerCall: perCall,
    callsInFlight: inFlight,
  })
} catch (err) {
  fail('platformatic', err)
}
