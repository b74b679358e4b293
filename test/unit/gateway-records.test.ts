// The gateway path's batch form (src/producer/gateway-records.ts): records written straight as the MessagePack a
// produce frame carries. Checked against an independent decoder (@msgpack/msgpack) and the gateway's own, for the
// size boundaries of every format it picks (bin 8/16/32, fixstr/str 32, fixarray/array 32, uint 32/64 timestamps).
/// <reference types="node" />
import { describe, expect, it } from 'vitest'
import { decode as referenceDecode } from '@msgpack/msgpack'
import { decodeWireRecords } from '../../adapters/gateway-wire/index.js'
import { gatewayRecordFormat, type GatewayRecordsBuilder } from '../../src/producer/gateway-records.js'
import { xorshift32 } from '../helpers/xorshift.js'

const enc = new TextEncoder()
type Rec = {
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<{ key: Uint8Array; value: Uint8Array | null }>
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255
  return b
}

function build(records: Rec[], capacity = 64): Uint8Array {
  const b = gatewayRecordFormat.builder(capacity) as GatewayRecordsBuilder
  for (const r of records) b.append(r)
  expect(b.count).toBe(records.length)
  return b.seal()
}

/** Byte arrays as base64 text: deep equality over 64 KiB arrays element by element takes seconds. */
const flat = (v: unknown): unknown =>
  v instanceof Uint8Array ? `b64:${Buffer.from(v).toString('base64')}` : Array.isArray(v) ? v.map(flat) : v

const asWire = (r: Rec) => [
  r.timestamp,
  r.key,
  r.value,
  r.headers.map((h) => [new TextDecoder().decode(h.key), h.value]),
]

describe('gateway records (MessagePack written as records arrive)', () => {
  it('decode with @msgpack/msgpack and with the gateway decoder to the records, across every size boundary', () => {
    const sizes = [0, 1, 255, 256, 65535, 65536, 70000]
    const records: Rec[] = []
    for (const n of sizes) {
      records.push({ timestamp: 0, key: null, value: bytes(n, n), headers: [] })
      records.push({ timestamp: 127, key: bytes(n, 1), value: null, headers: [] })
    }
    records.push({ timestamp: 128, key: null, value: null, headers: [] })
    records.push({ timestamp: 4294967295, key: enc.encode('k'), value: enc.encode('v'), headers: [] })
    records.push({ timestamp: 1765000000000, key: enc.encode('k'), value: enc.encode('v'), headers: [] })
    records.push({ timestamp: Number.MAX_SAFE_INTEGER, key: null, value: enc.encode('max'), headers: [] })
    const headers = Array.from({ length: 17 }, (_, i) => ({
      key: enc.encode('h'.repeat(i * 3) + 'é'),
      value: i % 3 === 0 ? null : bytes(i * 20, i),
    }))
    records.push({ timestamp: 5, key: null, value: null, headers })
    records.push({ timestamp: 6, key: null, value: null, headers: headers.slice(0, 15) })
    const out = build(records)
    const expected = records.map(asWire)
    expect(flat(referenceDecode(out))).toEqual(flat(expected))
    expect(flat(decodeWireRecords(out))).toEqual(flat(expected))
  })

  it('random records round-trip (seeded), and sizeInBytes never exceeds the estimate sum', () => {
    const next = xorshift32(20261207)
    const rnd = () => Math.floor(next() * 2 ** 31)
    for (let round = 0; round < 200; round++) {
      const records: Rec[] = []
      let estimate = 5
      const n = 1 + (rnd() % 20)
      for (let i = 0; i < n; i++) {
        const key = rnd() % 4 === 0 ? null : bytes(rnd() % 300, rnd())
        const value = rnd() % 5 === 0 ? null : bytes(rnd() % 2000, rnd())
        const hs = Array.from({ length: rnd() % 4 }, () => ({
          key: enc.encode('x'.repeat(rnd() % 40)),
          value: rnd() % 2 ? null : bytes(rnd() % 50, 3),
        }))
        const r = { timestamp: 1765000000000 + (rnd() % 1000), key, value, headers: hs }
        records.push(r)
        estimate += gatewayRecordFormat.estimate(key, value, hs)
      }
      const b = gatewayRecordFormat.builder(16) as GatewayRecordsBuilder
      for (const r of records) b.append(r)
      expect(b.sizeInBytes).toBeLessThanOrEqual(estimate)
      expect(flat(referenceDecode(b.seal()))).toEqual(flat(records.map(asWire)))
    }
  })

  it('writes into the pooled buffer it was given until it outgrows it', () => {
    const pooled = new Uint8Array(1024)
    const b = gatewayRecordFormat.builder(1024, pooled) as GatewayRecordsBuilder
    b.append({ timestamp: 1, key: null, value: bytes(100, 1), headers: [] })
    expect(b.buffer).toBe(pooled)
    b.append({ timestamp: 1, key: null, value: bytes(2000, 2), headers: [] })
    expect(b.buffer).not.toBe(pooled)
    expect(referenceDecode(b.seal())).toEqual([
      [1, null, bytes(100, 1), []],
      [1, null, bytes(2000, 2), []],
    ])
  })
})
