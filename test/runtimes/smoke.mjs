// Runtime smoke: the BUILT package (dist/, through the package's own exports: `isokafka` + `isokafka/node`, or
// `isokafka/websocket`) produces COUNT records to TOPIC, awaits every ack, and prints one JSON line.
// Runs unchanged on Node, Bun and Deno (`deno run -A`); run `npm run build` first.
//
//   KAFKA_BOOTSTRAP=127.0.0.1:9092 TOPIC=t [COUNT=5000] [RUNTIME_LABEL=bun] node|bun test/runtimes/smoke.mjs
//   KAFKA_BOOTSTRAP=... TOPIC=t deno run -A test/runtimes/smoke.mjs
//   TRANSPORT=websocket GATEWAY_URL=ws://127.0.0.1:8080/v1/ws GATEWAY_TOKEN=... TOPIC=t node test/runtimes/smoke.mjs
//
// Records are a pure function of (index, label), exported as makeRecord(), so test/runtimes/runtimes.test.ts can
// rebuild exactly what was sent and compare it byte for byte with what kcat reads back. Every record carries its
// index in a `seq` header. The summary's ackDigest is SHA-256 over "seq partition offset\n" lines of the producer's
// acks, which the test recomputes from kcat's records: what each send() resolved with is where the record is.
//
// Output (stdout, one line): {"ok":true,"runtime":"bun","version":"1.4.5","count":5000,"partitions":6,
//   "elapsedMs":...,"recordsPerSec":...,"perPartition":{"0":812,...},"ackDigest":"..."}
// On failure: {"ok":false,"runtime":...,"error":"...","code":"...","stack":"..."} and exit code 1.

import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'

const utf8 = new TextEncoder()

/** Which runtime runs this: { runtime, version }. */
export function runtimeInfo() {
  if (globalThis.Deno?.version?.deno) return { runtime: 'deno', version: globalThis.Deno.version.deno }
  if (globalThis.Bun?.version) return { runtime: 'bun', version: globalThis.Bun.version }
  return { runtime: 'node', version: process.versions.node }
}

function bytes(n, seed) {
  const b = new Uint8Array(n)
  for (let j = 0; j < n; j++) b[j] = (seed * 31 + j * 7 + (j >> 3)) & 0xff // covers 0x00, '"', '\\', '\n', 0x80-0xff
  return b
}

/**
 * Record i of a smoke run, without topic: { key, value, headers } with headers as [name, value] pairs (order and
 * duplicate names matter). Mixes string/binary/empty/null keys, UTF-8/binary/empty/null values, and binary, null,
 * empty and repeated headers.
 */
export function makeRecord(i, label) {
  let key
  if (i % 1000 === 1)
    key = '' // empty, not null
  else if (i % 10 === 3 || i % 10 === 7)
    key = null // uniform sticky partitioner
  else if (i % 10 === 5) key = Uint8Array.of(0x00, 0xff, 0xfe, i & 0xff, (i >> 8) & 0xff)
  else key = `k-${i % 50}`

  let value
  if (i % 500 === 42)
    value = null // tombstone
  else if (i % 250 === 17) value = new Uint8Array(0)
  else if (i % 9 === 0) value = `héllo ✓ 🚀 ${label} #${i}`
  else value = bytes((i * 37) % 300, i)

  const headers = [
    ['seq', String(i)],
    ['runtime', label],
  ]
  if (i % 4 === 0) headers.push(['bin', Uint8Array.of(0xc3, 0x28, 0x00, 0x0a, 0x22, 0x5c, i & 0xff)])
  if (i % 6 === 0) headers.push(['nullable', null])
  if (i % 8 === 0) headers.push(['dup', 'a'], ['dup', 'b'])
  if (i % 15 === 0) headers.push(['empty', ''])
  if (i % 21 === 0) headers.push(['ünïcode-ключ', '値 ✓'])
  return { key, value, headers }
}

/** Bytes (or null) of a key/value/header value as the default serializer writes it. */
export function toBytes(v) {
  if (v === null || v === undefined) return null
  return typeof v === 'string' ? utf8.encode(v) : v
}

/** SHA-256 hex of "seq partition offset\n" lines in seq order. */
export async function ackDigest(acks) {
  const text = acks.map((a, i) => `${i} ${a.partition} ${a.offset}\n`).join('')
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text)))
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * TRANSPORT=tcp (default): `tcp()` from `isokafka/node` to KAFKA_BOOTSTRAP.
 * TRANSPORT=websocket: `websocket()` from `isokafka/websocket` to a gateway (GATEWAY_URL, GATEWAY_TOKEN), with the
 * runtime's global WebSocket, or the `ws` package where there is none (Node 20).
 */
async function transportFromEnv(bootstrap) {
  const kind = process.env.TRANSPORT || 'tcp'
  if (kind === 'tcp') {
    if (!bootstrap) throw new Error('set KAFKA_BOOTSTRAP')
    return tcp({ bootstrap })
  }
  if (kind === 'websocket') {
    const url = process.env.GATEWAY_URL
    const token = process.env.GATEWAY_TOKEN
    if (!url || !token) throw new Error('TRANSPORT=websocket needs GATEWAY_URL and GATEWAY_TOKEN')
    // computed specifiers: bundlers and Vite (which imports this file for makeRecord) leave them to run time
    const websocketEntry = 'isokafka/websocket'
    const wsPackage = 'ws'
    const { websocket } = await import(/* @vite-ignore */ websocketEntry)
    const WebSocket = globalThis.WebSocket ?? (await import(/* @vite-ignore */ wsPackage)).default
    return websocket({ url, token, WebSocket })
  }
  throw new Error(`unknown TRANSPORT ${JSON.stringify(kind)} (tcp, websocket)`)
}

async function main() {
  const info = runtimeInfo()
  const label = process.env.RUNTIME_LABEL || info.runtime
  const bootstrap = process.env.KAFKA_BOOTSTRAP
  const topic = process.env.TOPIC
  const count = Number(process.env.COUNT || 5000)
  if (!topic || !(count > 0)) throw new Error('set TOPIC (and optionally COUNT > 0)')

  const producer = createProducer({ transport: await transportFromEnv(bootstrap), clientId: `isokafka-smoke-${label}` })
  try {
    // warm-up outside the timing: bootstrap connection, ApiVersions, metadata
    const partitions = await producer.partitionsFor(topic)
    const records = Array.from({ length: count }, (_, i) => ({ topic, ...makeRecord(i, label) }))
    const t0 = performance.now()
    const acks = await Promise.all(records.map((r) => producer.send(r)))
    const elapsedMs = performance.now() - t0
    await producer.close()
    const perPartition = {}
    for (const a of acks) perPartition[a.partition] = (perPartition[a.partition] ?? 0) + 1
    const summary = {
      ok: true,
      runtime: label,
      transport: process.env.TRANSPORT || 'tcp',
      engine: info.runtime,
      version: info.version,
      count,
      partitions,
      elapsedMs: Math.round(elapsedMs * 10) / 10,
      recordsPerSec: Math.round(count / (elapsedMs / 1000)),
      perPartition,
      ackDigest: await ackDigest(acks),
    }
    process.stdout.write(JSON.stringify(summary) + '\n')
  } catch (e) {
    await producer.close({ timeoutMs: 1000 }).catch(() => {})
    throw e
  }
}

function isMain() {
  if (typeof import.meta.main === 'boolean') return import.meta.main // Deno, Bun, Node >= 24
  return !!process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
}

if (isMain()) {
  main().then(
    () => process.exit(0),
    (e) => {
      const info = runtimeInfo()
      const out = {
        ok: false,
        runtime: process.env.RUNTIME_LABEL || info.runtime,
        engine: info.runtime,
        version: info.version,
        error: String(e?.message ?? e),
        code: e?.code,
        stack: e?.stack,
        cause: e?.cause ? String(e.cause?.stack ?? e.cause) : undefined,
      }
      process.stdout.write(JSON.stringify(out) + '\n')
      process.exit(1)
    },
  )
}
