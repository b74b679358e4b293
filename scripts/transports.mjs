#!/usr/bin/env node
// Every transport in one run, against one broker: the same records (100 B values, no key, 6 partitions, acks=all,
// idempotent, linger 5 ms) through Node TCP, Workers TCP inside workerd (Miniflare), WebSocket → gateway,
// fetch → gateway and fetch → REST Proxy v3 (served by the gateway). Each path gets its own topic and first sends an
// unmeasured warm-up (a tenth of the records: JIT, connections), then the measured records; kcat (librdkafka) then
// counts what the topic holds (warm-up included). Prints records/s per transport and the ratio to Node TCP.
//
//   node scripts/transports.mjs --bootstrap host:port [--records 20000] [--json]
//   (npm run demo runs it after its main run; the built package in dist/ is what runs)
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'
import { websocket } from 'isokafka/websocket'
import { fetchTransport } from 'isokafka/fetch'
import { createGateway, createGatewayToken } from 'isokafka/gateway'
import WebSocket from 'ws'
import { createTopic } from './kafka.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Count the records kcat sees in a topic (an independent reader). */
export function kcatCount(bootstrap, topic) {
  const r = spawnSync('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '.'], {
    maxBuffer: 64 << 20,
  })
  return r.status === 0 ? r.stdout.length : NaN
}

/** send() N records with at most `window` unsettled; records/s from the first send to the last ack. */
async function produceWith(transport, topic, n, size, window = 8192) {
  const producer = createProducer({ transport, acks: 'all', lingerMs: 5 })
  await producer.partitionsFor(topic) // connection and metadata before the clock starts
  const value = new Uint8Array(size).fill(120)
  let acked = 0
  let failed = 0
  let firstError = null
  let outstanding = 0
  let resume = null
  const settle = () => {
    outstanding--
    if (resume && outstanding <= window / 2) {
      const r = resume
      resume = null
      r()
    }
  }
  const start = performance.now()
  const all = []
  for (let i = 0; i < n; i++) {
    outstanding++
    all.push(
      producer.send({ topic, value }).then(
        () => (acked++, settle()),
        (err) => ((firstError ??= err), failed++, settle()),
      ),
    )
    if (outstanding >= window) await new Promise((r) => (resume = r))
  }
  await Promise.all(all)
  const seconds = (performance.now() - start) / 1000
  await producer.close()
  return { acked, failed, seconds, firstError }
}

/** Workers TCP: a Worker that produces `n` records per request (warm-up, then measured), run by workerd through Miniflare. */
async function produceInWorkerd(bootstrap, topic, warm, n, size) {
  const { build } = await import('esbuild')
  const { Miniflare } = await import('miniflare')
  const source = `
import { createProducer } from ${JSON.stringify(path.join(root, 'dist/index.js'))}
import { workersSocket } from ${JSON.stringify(path.join(root, 'dist/workers.js'))}
export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams
    const n = Number(q.get('n')), topic = q.get('topic'), value = new Uint8Array(Number(q.get('size'))).fill(120)
    const producer = createProducer({ transport: workersSocket({ bootstrap: env.KAFKA_BOOTSTRAP }), acks: 'all', lingerMs: 5 })
    await producer.partitionsFor(topic)
    // workerd's clock moves only across I/O: the start is read after the metadata round trip, the end after the acks
    const start = Date.now()
    let acked = 0, failed = 0, firstError = null, outstanding = 0, resume = null
    const settle = () => { if (--outstanding <= 4096 && resume) { const r = resume; resume = null; r() } }
    const all = []
    for (let i = 0; i < n; i++) {
      outstanding++
      all.push(producer.send({ topic, value }).then(() => { acked++; settle() }, (e) => { firstError ??= String(e); failed++; settle() }))
      if (outstanding >= 8192) await new Promise((r) => (resume = r))
    }
    await Promise.all(all)
    const ms = Date.now() - start
    await producer.close()
    return Response.json({ acked, failed, ms, firstError })
  },
}`
  const bundled = await build({
    stdin: { contents: source, resolveDir: root, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    external: ['cloudflare:*'],
    logLevel: 'silent',
  })
  const mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'index.js', contents: bundled.outputFiles[0].text }],
    compatibilityDate: '2025-09-01',
    bindings: { KAFKA_BOOTSTRAP: bootstrap },
  })
  try {
    await (await mf.dispatchFetch(`http://worker/?n=${warm}&size=${size}&topic=${topic}`)).json()
    const res = await mf.dispatchFetch(`http://worker/?n=${n}&size=${size}&topic=${topic}`)
    const body = await res.json()
    return { acked: body.acked, failed: body.failed, seconds: body.ms / 1000, firstError: body.firstError }
  } finally {
    await mf.dispose()
  }
}

export async function runTransports({ bootstrap, records = 20_000, size = 100, partitions = 6, log = console.log }) {
  const secret = crypto.getRandomValues(new Uint8Array(32)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '')
  // limits raised so the gateway's per-connection rate limit (default 200k records/s) does not set the figure
  const gateway = createGateway({
    bootstrap,
    secret,
    limits: { recordsPerSecond: 10_000_000, maxInFlightBatches: 1024 },
  })
  const { url } = await gateway.listen(0, '127.0.0.1')
  const prefix = `transports-${Date.now().toString(36)}`
  const token = await createGatewayToken({ secret, topics: [`${prefix}-*`], expiresInSec: 3600 })
  const warm = Math.max(1, Math.round(records / 10))
  // a producer of its own for the warm-up and for the measured run (the measured one starts with a fresh connection)
  const twice = (transport) => async (topic) => {
    await produceWith(transport(), topic, warm, size)
    return produceWith(transport(), topic, records, size)
  }
  const paths = [
    { name: 'Node TCP', run: twice(() => tcp({ bootstrap })) },
    { name: 'Workers TCP (workerd)', run: (topic) => produceInWorkerd(bootstrap, topic, warm, records, size) },
    {
      name: 'WebSocket → gateway',
      run: twice(() => websocket({ url: `${url.replace(/^http/, 'ws')}/v1/ws`, token, WebSocket })),
    },
    { name: 'fetch → gateway', run: twice(() => fetchTransport({ url, token, mode: 'gateway' })) },
    { name: 'fetch → REST v3', run: twice(() => fetchTransport({ url, token, mode: 'rest-v3' })) },
  ]
  const results = []
  try {
    for (const [i, p] of paths.entries()) {
      const topic = `${prefix}-${i}`
      await createTopic(bootstrap, topic, partitions, 1)
      let r
      try {
        r = await p.run(topic)
      } catch (err) {
        r = { acked: 0, failed: records, seconds: NaN, firstError: err }
      }
      const readBack = kcatCount(bootstrap, topic) - warm // what the topic holds beyond the warm-up
      const row = {
        transport: p.name,
        records,
        acked: r.acked,
        failed: r.failed,
        readBack,
        seconds: r.seconds,
        recordsPerSec: r.acked / r.seconds,
        firstError: r.firstError ? String(r.firstError?.message ?? r.firstError) : null,
      }
      results.push(row)
      log(
        `  ${p.name.padEnd(22)} ${Math.round(row.recordsPerSec).toLocaleString('en').padStart(9)} records/s   acked ${row.acked.toLocaleString('en')}, read back by kcat ${row.readBack.toLocaleString('en')}${row.firstError ? `   first error: ${row.firstError}` : ''}`,
      )
    }
  } finally {
    await gateway.close({ timeoutMs: 5000 })
  }
  const base = results[0]?.recordsPerSec
  for (const r of results) r.ratioToNodeTcp = base ? r.recordsPerSec / base : null
  return results
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      bootstrap: { type: 'string' },
      records: { type: 'string', default: '20000' },
      json: { type: 'boolean', default: false },
    },
  })
  if (!values.bootstrap)
    throw new Error('--bootstrap host:port is required (npm run demo starts a broker and runs this)')
  const results = await runTransports({
    bootstrap: values.bootstrap,
    records: Number(values.records),
    log: values.json ? () => {} : console.log,
  })
  if (values.json) console.log(JSON.stringify(results, null, 2))
  else for (const r of results) console.log(`  ${r.transport.padEnd(22)} ${r.ratioToNodeTcp?.toFixed(2)}× Node TCP`)
  process.exit(results.every((r) => r.acked === r.records && r.readBack === r.records) ? 0 : 1)
}
