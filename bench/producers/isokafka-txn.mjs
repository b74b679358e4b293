#!/usr/bin/env node
// isokafka (the built package, over Node TCP) as the transactions scenario's producer; started by bench/run.mjs.
// One transactional producer: initTransactions(), then transactions of config.txnRecords records each, produce() with
// one shared callback (awaiting ready() when it asks), commitTransaction() per transaction (it flushes first).
// Records/s over the whole run, commits included; commit latency (commitTransaction() call to resolve) per transaction.
import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'
import { cpuSecondsSince, fail, finish, latencySummary, payload, readConfig } from '../lib/child.mjs'

const c = readConfig()
const N = c.records
const perTxn = c.txnRecords

try {
  const producer = createProducer({
    transport: tcp({ bootstrap: c.bootstrap, clientId: 'isokafka-bench' }),
    transactionalId: `isokafka-bench-${process.pid}`,
    lingerMs: c.lingerMs,
    batchSize: c.batchSize,
    bufferMemory: c.bufferMemory,
  })
  await producer.partitionsFor(c.topic)
  await producer.initTransactions()
  const value = payload(c.size)
  const topic = c.topic
  let acked = 0
  let failed = 0
  let firstError = null
  const onDelivery = (err) => {
    if (err) {
      firstError ??= err
      failed++
    } else acked++
  }
  const commits = []
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  for (let sent = 0; sent < N; ) {
    producer.beginTransaction()
    const end = Math.min(N, sent + perTxn)
    for (; sent < end; sent++) if (!producer.produce({ topic, value }, onDelivery)) await producer.ready()
    const t = performance.now()
    await producer.commitTransaction()
    commits.push(performance.now() - t)
  }
  const seconds = (performance.now() - start) / 1000
  const phaseCpuSeconds = cpuSecondsSince(cpu0)
  await producer.close()
  finish({
    client: 'isokafka',
    records: N,
    acked,
    failed,
    firstError: firstError ? `${firstError.code ?? ''} ${firstError.message}` : null,
    seconds,
    recordsPerSec: N / seconds,
    mbPerSec: (N * c.size) / seconds / 1e6,
    latencyMs: null,
    commitMs: latencySummary(commits),
    transactions: commits.length,
    phaseCpuSeconds,
  })
} catch (err) {
  fail('isokafka', err)
}
