/// <reference types="node" />
// The readers behind `isokafka produce` (adapters/cli/input.ts) fed the same bytes in random chunk sizes: records
// must not depend on where chunks end (a delimiter or a length prefix split over two chunks); and the CreateTopics
// message behind `isokafka topics create` through both directions of its codec. No broker needed; it sits beside
// cli.test.ts, which runs the same code end to end against a real broker.
import { describe, expect, it } from 'vitest'
import { InputProblem, makeReader, type CliRecord, type InputFormat } from '../../adapters/cli/input.js'
import { Reader, Writer } from '../../src/protocol/codec.js'
import { CreateTopics, type CreateTopicsRequest, type CreateTopicsResponse } from '../../src/protocol/messages/create-topics.js'
import { xorshift32 } from '../helpers/xorshift.js'

function readAll(format: InputFormat, input: Uint8Array, chunkSizes: () => number, delimiter = '\n', keyDelimiter: string | null = null) {
  const enc = new TextEncoder()
  const reader = makeReader(format, enc.encode(delimiter), keyDelimiter === null ? null : enc.encode(keyDelimiter))
  const out: Array<CliRecord | string> = []
  const drain = () => {
    for (let r = reader.next(); r !== null; r = reader.next()) out.push(r instanceof InputProblem ? `problem: ${r.message}` : r)
  }
  for (let i = 0; i < input.length; ) {
    const n = Math.max(1, chunkSizes())
    reader.push(input.slice(i, i + n))
    i += n
    drain()
  }
  reader.end()
  drain()
  return out.map((r) => (typeof r === 'string' ? r : { key: r.key && Buffer.from(r.key).toString('hex'), value: r.value && Buffer.from(r.value).toString('hex') }))
}

/** The same split done the plain way, on the whole input at once. */
function reference(input: Buffer, delimiter: Buffer, keyDelimiter: Buffer | null) {
  const out: Array<{ key: string | null; value: string }> = []
  let start = 0
  const pieces: Buffer[] = []
  for (;;) {
    const at = input.indexOf(delimiter, start)
    pieces.push(input.subarray(start, at < 0 ? input.length : at))
    if (at < 0) break
    start = at + delimiter.length
  }
  for (const p of pieces) {
    if (p.length === 0) continue
    const k = keyDelimiter ? p.indexOf(keyDelimiter) : -1
    out.push(k < 0 ? { key: null, value: p.toString('hex') } : { key: p.subarray(0, k).toString('hex'), value: p.subarray(k + keyDelimiter!.length).toString('hex') })
  }
  return out
}

describe('produce input readers over arbitrary chunk boundaries', () => {
  it('lines with one- and multi-byte delimiters and key delimiters', () => {
    for (const [delimiter, keyDelimiter] of [['\n', null], ['\n', ':'], ['\r\n', '::'], ['|#|', '=']] as const) {
      for (let seed = 1; seed <= 30; seed++) {
        const rnd = xorshift32(seed)
        // an alphabet dense in delimiter bytes, so delimiters and near-misses straddle chunk ends often
        const alphabet = Buffer.from(`ab${delimiter}${keyDelimiter ?? ''}\n\r|#:=`)
        const input = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 400) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!))
        const got = readAll('lines', input, () => Math.floor(rnd() * 9), delimiter, keyDelimiter)
        expect(got, `seed ${seed} ${JSON.stringify(delimiter)}`).toEqual(reference(input, Buffer.from(delimiter), keyDelimiter ? Buffer.from(keyDelimiter) : null))
      }
    }
  })

  it('length-prefixed frames (values, key-value pairs, null and empty) split anywhere', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = xorshift32(seed)
      const records = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => {
        const field = () => (rnd() < 0.15 ? null : Buffer.from(Array.from({ length: Math.floor(rnd() * 30) }, () => Math.floor(rnd() * 256))))
        return { key: field(), value: field() }
      })
      const frame = (b: Buffer | null) => {
        const len = Buffer.alloc(4)
        len.writeInt32BE(b === null ? -1 : b.length)
        return b === null ? len : Buffer.concat([len, b])
      }
      const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'))
      const kv = Buffer.concat(records.flatMap((r) => [frame(r.key), frame(r.value)]))
      expect(readAll('binary-kv', kv, () => Math.floor(rnd() * 7))).toEqual(records.map((r) => ({ key: hex(r.key), value: hex(r.value) })))
      const values = Buffer.concat(records.map((r) => frame(r.value)))
      expect(readAll('binary', values, () => Math.floor(rnd() * 7))).toEqual(records.map((r) => ({ key: null, value: hex(r.value) })))
      // cut short: the whole records come out, then one problem
      const cut = values.subarray(0, values.length - 1)
      const got = readAll('binary', cut, () => Math.floor(rnd() * 7))
      expect(got.at(-1)).toMatch(/^problem: record \d+ \(byte \d+\): input ends inside a frame/)
    }
  })

  it('JSON lines: fields, kcat -J names, and bad lines as problems with their line number', () => {
    const input = Buffer.from('{"key":"k","value":"v","headers":{"a":"1"}}\n\nnot json\n[1]\n{"payload":"p","ts":5,"partition":2}\n{"value":"x","partition":-1}')
    const got = readAll('json', input, () => 5)
    expect(got).toEqual([
      { key: Buffer.from('k').toString('hex'), value: Buffer.from('v').toString('hex') },
      expect.stringMatching(/^problem: line 3: not JSON/),
      'problem: line 4: not a JSON object',
      { key: null, value: Buffer.from('p').toString('hex') },
      'problem: line 6: partition must be an integer ≥ 0',
    ])
  })
})

describe('CreateTopics codec (isokafka topics create)', () => {
  it('requests and responses read back as written in every version, flexible or not', () => {
    const req: CreateTopicsRequest = {
      topics: [
        { name: 'a', numPartitions: 3, replicationFactor: 1, configs: [['cleanup.policy', 'compact'], ['retention.ms', null]] },
        { name: 'b', numPartitions: -1, replicationFactor: -1, configs: [] },
      ],
      timeoutMs: 30000,
      validateOnly: true,
    }
    const res: CreateTopicsResponse = {
      topics: [
        { name: 'a', errorCode: 0, errorMessage: null, numPartitions: 3, replicationFactor: 1 },
        { name: 'b', errorCode: 36, errorMessage: "Topic 'b' already exists.", numPartitions: -1, replicationFactor: -1 },
      ],
    }
    for (let v = CreateTopics.minVersion; v <= CreateTopics.maxVersion; v++) {
      const w = new Writer()
      CreateTopics.encode(w, v, req)
      const r = new Reader(w.finish())
      expect(CreateTopics.decodeRequest(r, v), `v${v}`).toEqual(req)
      expect(r.remaining).toBe(0)
      const wr = new Writer()
      CreateTopics.encodeResponse(wr, v, res)
      const rr = new Reader(wr.finish())
      // before v5 the response has no partition count or replication factor
      const want = v >= 5 ? res : { topics: res.topics.map((t) => ({ ...t, numPartitions: -1, replicationFactor: -1 })) }
      expect(CreateTopics.decode(rr, v), `v${v}`).toEqual(want)
      expect(rr.remaining).toBe(0)
    }
  })
})
