#!/usr/bin/env node
// KafkaJS 2.2.4 (devDependency) as one benchmark producer process; started by bench/run.mjs.
// KafkaJS has no record accumulator (no linger, no batch.size): one send() call is one Produce request per broker
// (its default partitioner spreads key-less records round-robin), so its best batching is many messages per call:
// about 256 KiB of records per call (see below), up to 5 calls outstanding (= max.in.flight 5; KafkaJS numbers
// idempotent sequences at send time, so pipelined calls stay valid). Latency: each record gets its call's latency.
import kafkajs from 'kafkajs'
import { cpuSecondsSince, fail, finish, latencySummary, payload, readConfig } from '../lib/child.mjs'

const { Kafka, logLevel, CompressionTypes } = kafkajs
const c = readConfig()
const N = c.records
const acks = c.acks === 'all' || c.acks === -1 ? -1 : Number(c.acks)
const idempotent = acks === -1 && Boolean(c.idempotent)
// ~256 KiB of records per call, whatever the scenario's batch size (the client has no such setting): in a sweep on
// this machine (100 B records: 786 / 2,048 / 8,192 / 50,556 per call; 1 KiB: 84 / 252 / 1,000 / 5,460) calls of
// 200 KB–1 MB were the fastest; much larger calls get slower (one huge request at a time), smaller ones pay per call.
const perCall = c.perCall ?? Math.max(1, Math.floor((256 * 1024) / (c.size + 12)))
const inFlight = c.inFlight ?? 5

try {
  const kafka = new Kafka({ clientId: 'kafkajs-bench', brokers: c.bootstrap.split(','), logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ idempotent, allowAutoTopicCreation: false, maxInFlightRequests: inFlight })
  await producer.connect()
  const value = Buffer.from(payload(c.size))
  const topic = c.topic
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
      for (let i = 0; i < n; i++) messages[i] = { value }
      const t = performance.now()
      try {
        await producer.send({ topic, acks, compression: CompressionTypes.None, messages })
        const l = performance.now() - t
        lat.fill(l, from, from + n)
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
  await producer.disconnect()
  finish({
    client: 'kafkajs',
    records: N,
    acked,
    failed,
    firstError: firstError ? String(firstError.message ?? firstError) : null,
    seconds,
    recordsPerSec: N / seconds,
    mbPerSec: (N * c.size) / seconds / 1e6,
    latencyMs: latencySummary(lat),
    phaseCpuSeconds,
    messagesPerCall: perCall,
    callsInFlight: inFlight,
  })
} catch (err) {
  fail('kafkajs', err)
}
