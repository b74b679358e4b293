/// <reference types="node" />
// The produce fast path (adapters/gateway/fast-produce.ts) against the general path (@msgpack/msgpack +
// parseProduce): for valid frames in every encoding the protocol allows, the same batches, records, digests and
// costs; for mutated, truncated and hostile frames, either null (the general path decides, with its typed refusal)
// or exactly what the general path accepts. Never a frame the general path refuses.
import v8 from 'node:v8'
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { Decoder, encode as msgpackEncode } from '@msgpack/msgpack'
import { encodeFrame, toWireBatch, type WireBatch, type WireRecord } from '../../adapters/gateway-wire/index.js'
import { gatewayRecordFormat, type GatewayRecordsBuilder } from '../../src/producer/gateway-records.js'
import { batchDigest } from '../../adapters/gateway/batch-ledger.js'
import { forEachFastRecord, parseProduceFast } from '../../adapters/gateway/fast-produce.js'
import { recordCost } from '../../adapters/gateway/limits.js'
import { parseProduce } from '../../adapters/gateway/validate.js'
import { xorshift32 } from '../helpers/xorshift.js'

const limits = { maxInFlightBatches: 256, maxRecordsPerFrame: 10_000 }
const decoder = new Decoder({
  maxStrLength: 1 << 20,
  maxBinLength: 1 << 21,
  maxArrayLength: 1 << 21,
  maxMapLength: 64,
  maxExtLength: 0,
})

/** The general path's verdict: the parsed request, or null when it refuses (or the bytes do not decode). */
function general(bytes: Uint8Array) {
  let raw: Record<string, unknown>
  try {
    raw = decoder.decode(bytes) as Record<string, unknown>
  } catch {
    return null
  }
  if (!raw || typeof raw !== 'object' || raw.t !== 'produce' || !Number.isSafeInteger(raw.id)) return null
  try {
    return { id: raw.id as number, ...parseProduce(raw, limits) }
  } catch {
    return null
  }
}

/** What the fast path read, in the general path's terms. */
/** Byte arrays as base64 text: element-by-element deep equality over many 70 KB arrays took half a minute. */
const b64 = (x: Uint8Array | null) => x && Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64')

function fastView(bytes: Uint8Array) {
  const f = parseProduceFast(bytes, limits)
  if (!f) return null
  return {
    id: f.id,
    acks: f.acks,
    timeoutMs: f.timeoutMs,
    records: f.records,
    batches: f.batches.map((b) => {
      const records: WireRecord[] = []
      forEachFastRecord(
        b,
        (_i, ts, key, value, headers) =>
          records.push([ts, b64(key), b64(value), headers.map(([n, v]) => [n, b64(v)])] as never),
        null,
      )
      return { topic: b.topic, partition: b.partition, batchId: b.batchId, records, digest: b.digest, cost: b.cost }
    }),
  }
}

function normal(g: NonNullable<ReturnType<typeof general>>) {
  return {
    id: g.id,
    acks: g.acks,
    timeoutMs: g.timeoutMs,
    records: g.records,
    batches: g.batches.map((b) => ({
      topic: b.topic,
      partition: b.partition,
      batchId: b.batchId,
      records: b.records.map(([ts, k, v, h]) => [ts, b64(k), b64(v), h.map(([n, x]) => [n, b64(x)])]),
      digest: batchDigest(b.records),
      cost: b.records.reduce((s, r) => s + recordCost(r[1], r[2], r[3]), 0),
    })),
  }
}

function randomFrame(rnd: () => number, i: number) {
  const pick = (n: number) => Math.floor(rnd() * n)
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => pick(256))
  const field = () => (pick(5) === 0 ? null : bytes([0, 1, 15, 16, 17, 100, 300, 70_000][pick(rnd() < 0.02 ? 8 : 7)]!))
  const batches: WireBatch[] = Array.from({ length: 1 + pick(4) }, (_, b) => ({
    topic: ['t', 'clicks', 'a.b_c-D9'][pick(3)]!,
    partition: [0, 1, 127, 128, 65_536, 0x7fffffff][pick(6)]!,
    batchId: `id-${i}-${b}`.padEnd(1 + pick(100), 'x'),
    records: Array.from(
      { length: 1 + pick(12) },
      () =>
        [
          [0, 1, 200, 70_000, 1_795_598_911_190, 2 ** 40, 2 ** 53 - 1][pick(7)]!,
          field(),
          field(),
          Array.from(
            { length: pick(3) },
            () => [['h', 'trace-id', ''][pick(3)]!, field()] as [string, Uint8Array | null],
          ),
        ] as WireRecord,
    ),
  }))
  return {
    t: 'produce',
    id: pick(2) ? pick(100) : 2 ** 40 + pick(1000),
    acks: [-1, 0, 1][pick(3)],
    timeoutMs: [30_000, 50, 1e6, 1.5][pick(4)],
    batches,
  }
}

describe('produce fast path', () => {
  it('reads valid frames as the general path does (gateway-wire and @msgpack/msgpack encodings)', () => {
    const rnd = xorshift32(42)
    let fastTaken = 0
    for (let i = 0; i < 150; i++) {
      const frame = randomFrame(rnd, i)
      for (const bytes of [encodeFrame(frame as never), msgpackEncode(frame)]) {
        const g = general(bytes)
        expect(g).not.toBeNull()
        const f = fastView(bytes)
        if (f) {
          fastTaken++
          expect(f).toEqual(normal(g!))
        }
      }
    }
    expect(fastTaken).toBe(300) // every valid frame of these encoders takes the fast path
  })

  it("takes frames as isokafka's producers write them (records written as they arrive: array 32, str 32 names)", () => {
    const rnd = xorshift32(7)
    const enc = new TextEncoder()
    for (let i = 0; i < 40; i++) {
      const frame = randomFrame(rnd, i)
      const batches = frame.batches.map((b) => {
        const builder = gatewayRecordFormat.builder(64) as GatewayRecordsBuilder
        for (const [timestamp, key, value, headers] of b.records) {
          builder.append({
            timestamp,
            key,
            value,
            headers: headers.map(([n, v]) => ({ key: enc.encode(n.padEnd(i % 3 === 0 ? 40 : 1, 'n')), value: v })),
          })
        }
        return toWireBatch({
          topic: b.topic,
          partition: b.partition,
          batchId: b.batchId,
          count: b.records.length,
          records: builder.seal(),
        })
      })
      const bytes = encodeFrame({ ...frame, batches } as never)
      const g = general(bytes)
      expect(g).not.toBeNull()
      const f = fastView(bytes)
      expect(f).not.toBeNull()
      expect(f).toEqual(normal(g!))
    }
  })

  it('never accepts what the general path refuses, and reads what it accepts the same (mutations, truncations)', () => {
    const rnd = xorshift32(7)
    let compared = 0
    for (let i = 0; i < 1200; i++) {
      const base = encodeFrame(randomFrame(rnd, i) as never)
      const bytes = Uint8Array.from(base)
      const kind = Math.floor(rnd() * 4)
      if (kind === 0)
        for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++)
          bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256)
      const input =
        kind === 1
          ? bytes.subarray(0, Math.floor(rnd() * bytes.length))
          : kind === 2
            ? Uint8Array.from([...bytes, Math.floor(rnd() * 256)])
            : bytes
      const f = fastView(input)
      if (f === null) continue
      const g = general(input)
      expect(g, `fast path accepted a frame the general path refuses (case ${i}, kind ${kind})`).not.toBeNull()
      expect(f).toEqual(normal(g!))
      compared++
    }
    expect(compared).toBeGreaterThan(200)
  }, 60_000) // CPU-bound: seconds on a busy 2-core machine (5 s timed out there)

  it('leaves to the general path: unknown fields, repeated keys, non-ASCII names, limits, other frame types', () => {
    const ok = {
      t: 'produce',
      id: 1,
      acks: -1,
      timeoutMs: 1000,
      batches: [{ topic: 't', partition: 0, batchId: 'b', records: [[1, null, new Uint8Array(3), []]] }],
    }
    expect(parseProduceFast(encodeFrame(ok as never), limits)).not.toBeNull()
    // a timestamp as uint 64 at the edge of the safe integers: 2^53 - 1 is read, 2^53 is left to the general path,
    // which refuses it
    const withTimestamp = (hi: number, lo: number) => {
      const bytes = encodeFrame({
        ...ok,
        batches: [{ ...ok.batches[0], records: [[2 ** 40, null, null, []]] }],
      } as never)
      const at = bytes.indexOf(0xcf) // the only uint 64 in the frame
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(at + 1, hi)
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(at + 5, lo)
      return bytes
    }
    const edge = fastView(withTimestamp(0x1fffff, 0xffffffff))
    expect(edge!.batches[0]!.records[0]![0]).toBe(2 ** 53 - 1)
    expect(parseProduceFast(withTimestamp(0x200000, 0), limits)).toBeNull()
    expect(general(withTimestamp(0x200000, 0))).toBeNull()
    const cases: unknown[] = [
      { ...ok, extra: 1 },
      { ...ok, batches: [{ ...ok.batches[0], extra: 1 }] },
      { ...ok, batches: [{ ...ok.batches[0], topic: 'tö' }] },
      { ...ok, batches: [{ ...ok.batches[0], batchId: 'é' }] },
      { ...ok, batches: [{ ...ok.batches[0], records: [[1, null, null, [['ñ', null]]]] }] },
      { ...ok, batches: [{ ...ok.batches[0], records: [[1, 'str', null, []]] }] },
      { ...ok, batches: [{ ...ok.batches[0], records: [[-1, null, null, []]] }] },
      { ...ok, batches: [{ ...ok.batches[0], records: [] }] },
      { ...ok, batches: [ok.batches[0], ok.batches[0]] },
      { ...ok, batches: [] },
      { ...ok, acks: 2 },
      { ...ok, timeoutMs: 0 },
      { ...ok, id: 1.5 },
      { ...ok, batches: Array.from({ length: 257 }, (_, i) => ({ ...ok.batches[0], batchId: `b${i}` })) },
      { ...ok, batches: [{ ...ok.batches[0], records: Array.from({ length: 10_001 }, () => [1, null, null, []]) }] },
      { t: 'metadata', id: 1, topics: ['t'] },
    ]
    for (const c of cases)
      expect(parseProduceFast(encodeFrame(c as never), limits), JSON.stringify(c).slice(0, 120)).toBeNull()
    // a repeated key, written by hand: { t, id, id, ... }
    const bytes = encodeFrame(ok as never)
    const dup = Uint8Array.from([0x86, ...bytes.subarray(1, 11), 0xa2, 0x69, 0x64, 0x02, ...bytes.subarray(11)])
    expect(parseProduceFast(dup, limits)).toBeNull()
  })

  it('reads long batch ids as flat strings: the ledger keeps 100,000 of them (a string built a character at a time was ~32 B a character)', () => {
    const frame = (batchId: string) =>
      encodeFrame({
        t: 'produce',
        id: 1,
        acks: -1,
        timeoutMs: 1000,
        batches: [{ topic: 't', partition: 0, batchId, records: [[1, null, null, []]] }],
      } as never)
    // every length around the switch from one character at a time to one call, and the limit
    for (const n of [1, 11, 12, 13, 14, 40, 127, 128]) {
      const id = Array.from({ length: n }, (_, i) => String.fromCharCode(0x21 + ((i * 7) % 94))).join('')
      expect(parseProduceFast(frame(id), limits)!.batches[0]!.batchId).toBe(id)
    }
    expect(parseProduceFast(frame('x'.repeat(129)), limits)).toBeNull()
    // a non-ASCII byte anywhere in a long id leaves the frame to the general path
    expect(parseProduceFast(frame(`${'a'.repeat(20)}é${'b'.repeat(5)}`), limits)).toBeNull()
    expect(parseProduceFast(frame(`${'a'.repeat(30)}é`), limits)).toBeNull()
    // memory: 20,000 parsed 40-character ids kept (as the ledger keeps them) cost ~60 B each when flat, ~900 as
    // cons-string chains
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const frames = Array.from({ length: 20_000 }, (_, i) => frame(`${String(i).padStart(8, '0')}${'-'.repeat(32)}`))
    gc()
    const before = process.memoryUsage().heapUsed
    const ids = frames.map((f) => parseProduceFast(f, limits)!.batches[0]!.batchId)
    gc()
    const perId = (process.memoryUsage().heapUsed - before) / ids.length
    expect(ids[19_999]).toBe(`00019999${'-'.repeat(32)}`)
    expect(perId).toBeLessThan(250)
  })
})
