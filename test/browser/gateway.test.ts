// Chromium big run: the isokafka core plus a browser transport produce to a real broker through the gateway of the
// global setup, then kcat reads every topic back (through a Vitest browser command) and the records are compared
// byte for byte at the partition/offset each send() resolved with, in send order per partition:
//   - WebSocket transport: 10,000 records;
//   - fetch transport, gateway mode (MessagePack frames, batch ids): 2,000 records;
//   - fetch transport, rest-v3 mode (Confluent REST Proxy v3 JSON, served by the gateway): 2,000 records.
// Binary keys and values (every byte value), null and empty keys/values, headers with binary and null values and
// repeated names, explicit timestamps. Records/s are measured in the browser from the first send() to the last ack.
import { describe, expect, inject, it } from 'vitest'
import { commands } from 'vitest/browser'
import { createProducer, murmur2Partition, type RecordMetadata, type Transport } from '../../src/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { fetchTransport } from '../../adapters/fetch/index.js'
import type { HexReadRecord } from '../setup/gateway-global-setup.js'
import { xorshift32 } from '../helpers/xorshift.js'

const gatewayUrl = inject('gatewayUrl')
const gatewayWsUrl = inject('gatewayWsUrl')
const token = inject('gatewayToken')
const PARTITIONS = 6
const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
const utf8 = new TextEncoder()

interface Rec {
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
  timestamp: number
}

/** Deterministic records (xorshift32): binary keys/values, null and empty ones, headers with nulls and repeats. */
function makeRecords(n: number, seed: number): Rec[] {
  const rand = xorshift32(seed)
  const bytes = (len: number) => {
    const b = new Uint8Array(len)
    for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256)
    return b
  }
  const base = Date.now() - 60_000
  return Array.from({ length: n }, (_, i) => {
    const r = rand()
    const key = r < 0.2 ? null : r < 0.25 ? new Uint8Array(0) : bytes(1 + Math.floor(rand() * 24))
    const value = i % 97 === 0 ? null : i % 89 === 0 ? new Uint8Array(0) : bytes(8 + Math.floor(rand() * 120))
    const headers: Array<[string, Uint8Array | null]> = [['seq', utf8.encode(String(i))]]
    if (i % 5 === 0) headers.push(['bin', bytes(6)], ['nil', null])
    if (i % 7 === 0) headers.push(['dup', utf8.encode('a')], ['dup', utf8.encode('b')])
    return { key, value, headers, timestamp: base + i }
  })
}

const hex = (b: Uint8Array | null) =>
  b === null ? null : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

/** Problems between what was sent (and acked at `metas`) and what kcat read; empty when all is well. */
function compare(sent: Rec[], metas: RecordMetadata[], read: HexReadRecord[]): string[] {
  const problems: string[] = []
  if (read.length !== sent.length) problems.push(`read ${read.length} records, sent ${sent.length}`)
  const at = new Map(read.map((r) => [`${r.partition}:${r.offset}`, r]))
  if (at.size !== read.length) problems.push('two records at one position')
  const last = new Map<number, number>()
  sent.forEach((s, i) => {
    const m = metas[i]!
    const prev = last.get(m.partition)
    if (prev !== undefined && m.offset <= prev)
      problems.push(`record ${i}: offset ${m.offset} after ${prev} in partition ${m.partition} (send order lost)`)
    last.set(m.partition, m.offset)
    const r = at.get(`${m.partition}:${m.offset}`)
    if (!r) return void problems.push(`record ${i} acked at ${m.partition}:${m.offset} is not in Kafka`)
    if (r.key !== hex(s.key)) problems.push(`record ${i}: key ${r.key} != ${hex(s.key)}`)
    if (r.value !== hex(s.value)) problems.push(`record ${i}: value differs`)
    if (JSON.stringify(r.headers) !== JSON.stringify(s.headers.map(([k, v]) => [k, hex(v)])))
      problems.push(`record ${i}: headers differ`)
    if (r.timestamp !== s.timestamp) problems.push(`record ${i}: timestamp ${r.timestamp} != ${s.timestamp}`)
    if (s.key !== null && s.key.length > 0 && m.partition !== murmur2Partition(s.key, PARTITIONS))
      problems.push(`record ${i}: partition ${m.partition} is not murmur2(key)`)
  })
  return problems.slice(0, 20)
}

async function produceAndCheck(label: string, transport: Transport, n: number, seed: number) {
  const topic = `big-${label}-${run}`
  await commands.createTopic(topic, PARTITIONS)
  const records = makeRecords(n, seed)
  const producer = createProducer({ transport })
  await producer.partitionsFor(topic) // connect, authenticate, metadata: not part of the timing
  const started = performance.now()
  const metas = await Promise.all(
    records.map((r) =>
      producer.send({ topic, key: r.key ?? undefined, value: r.value, headers: r.headers, timestamp: r.timestamp }),
    ),
  )
  const ms = performance.now() - started
  await producer.close()
  const perSec = Math.round((n / ms) * 1000)
  console.log(
    `[chromium] ${label}: ${n.toLocaleString('en')} records in ${Math.round(ms)} ms = ${perSec.toLocaleString('en')} records/s (in the browser, send() to last ack)`,
  )
  const read = await commands.readTopic(topic, n, 120_000)
  expect(compare(records, metas, read)).toEqual([])
  // null keys are spread by the sticky partitioner, keyed ones by murmur2: more than one partition is used
  expect(new Set(metas.map((m) => m.partition)).size).toBeGreaterThan(1)
  return perSec
}

describe('Chromium → gateway → Kafka, read back with kcat', () => {
  it('WebSocket transport: 10,000 records, byte-exact, in order per partition', async () => {
    await produceAndCheck('ws', websocket({ url: gatewayWsUrl, token }), 10_000, 101)
  })

  it('fetch transport, gateway mode: 2,000 records, byte-exact, in order per partition', async () => {
    await produceAndCheck('fetch-gateway', fetchTransport({ url: gatewayUrl, token, mode: 'gateway' }), 2_000, 102)
  })

  it('fetch transport, rest-v3 mode (REST Proxy v3 served by the gateway): 2,000 records, byte-exact, in order per partition', async () => {
    await produceAndCheck('fetch-rest-v3', fetchTransport({ url: gatewayUrl, token, mode: 'rest-v3' }), 2_000, 103)
  })
})
