/// <reference types="node" />
// The readers behind `isokafka produce` (adapters/cli/input.ts) fed the same bytes in random chunk sizes: records
// must not depend on where chunks end (a delimiter or a length prefix split over two chunks); and the CreateTopics
// message behind `isokafka topics create` through both directions of its codec; `isokafka perf`'s number formatting
// and statistics. No broker needed; it sits beside
// cli.test.ts, which runs the same code end to end against a real broker.
import { describe, expect, it } from 'vitest'
import {
  InputProblem,
  MAX_RECORD_BYTES,
  makeReader,
  type CliRecord,
  type InputFormat,
} from '../../adapters/cli/input.js'
import { PerfStats, javaFixed } from '../../adapters/cli/perf-stats.js'
import { Reader, Writer } from '../../src/protocol/codec.js'
import {
  CreateTopics,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
} from '../../src/protocol/messages/create-topics.js'
import { xorshift32 } from '../helpers/xorshift.js'

function readAll(
  format: InputFormat,
  input: Uint8Array,
  chunkSizes: () => number,
  delimiter = '\n',
  keyDelimiter: string | null = null,
) {
  const enc = new TextEncoder()
  const reader = makeReader(format, enc.encode(delimiter), keyDelimiter === null ? null : enc.encode(keyDelimiter))
  const out: Array<CliRecord | string> = []
  const drain = () => {
    for (let r = reader.next(); r !== null; r = reader.next())
      out.push(r instanceof InputProblem ? `problem: ${r.message}` : r)
  }
  for (let i = 0; i < input.length; ) {
    const n = Math.max(1, chunkSizes())
    reader.push(input.slice(i, i + n))
    i += n
    drain()
  }
  reader.end()
  drain()
  return out.map((r) =>
    typeof r === 'string'
      ? r
      : { key: r.key && Buffer.from(r.key).toString('hex'), value: r.value && Buffer.from(r.value).toString('hex') },
  )
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
    out.push(
      k < 0
        ? { key: null, value: p.toString('hex') }
        : { key: p.subarray(0, k).toString('hex'), value: p.subarray(k + keyDelimiter!.length).toString('hex') },
    )
  }
  return out
}

describe('produce input readers over arbitrary chunk boundaries', () => {
  it('lines with one- and multi-byte delimiters and key delimiters', () => {
    for (const [delimiter, keyDelimiter] of [
      ['\n', null],
      ['\n', ':'],
      ['\r\n', '::'],
      ['|#|', '='],
    ] as const) {
      for (let seed = 1; seed <= 30; seed++) {
        const rnd = xorshift32(seed)
        // an alphabet dense in delimiter bytes, so delimiters and near-misses straddle chunk ends often
        const alphabet = Buffer.from(`ab${delimiter}${keyDelimiter ?? ''}\n\r|#:=`)
        const input = Buffer.from(
          Array.from({ length: 1 + Math.floor(rnd() * 400) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!),
        )
        const got = readAll('lines', input, () => Math.floor(rnd() * 9), delimiter, keyDelimiter)
        expect(got, `seed ${seed} ${JSON.stringify(delimiter)}`).toEqual(
          reference(input, Buffer.from(delimiter), keyDelimiter ? Buffer.from(keyDelimiter) : null),
        )
      }
    }
  })

  it('length-prefixed frames (values, key-value pairs, null and empty) split anywhere', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = xorshift32(seed)
      const records = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => {
        const field = () =>
          rnd() < 0.15
            ? null
            : Buffer.from(Array.from({ length: Math.floor(rnd() * 30) }, () => Math.floor(rnd() * 256)))
        return { key: field(), value: field() }
      })
      const frame = (b: Buffer | null) => {
        const len = Buffer.alloc(4)
        len.writeInt32BE(b === null ? -1 : b.length)
        return b === null ? len : Buffer.concat([len, b])
      }
      const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'))
      const kv = Buffer.concat(records.flatMap((r) => [frame(r.key), frame(r.value)]))
      expect(readAll('binary-kv', kv, () => Math.floor(rnd() * 7))).toEqual(
        records.map((r) => ({ key: hex(r.key), value: hex(r.value) })),
      )
      const values = Buffer.concat(records.map((r) => frame(r.value)))
      expect(readAll('binary', values, () => Math.floor(rnd() * 7))).toEqual(
        records.map((r) => ({ key: null, value: hex(r.value) })),
      )
      // cut short: the whole records come out, then one problem
      const cut = values.subarray(0, values.length - 1)
      const got = readAll('binary', cut, () => Math.floor(rnd() * 7))
      expect(got.at(-1)).toMatch(/^problem: record \d+ \(byte \d+\): input ends inside a frame/)
    }
  })

  it('a line or frame longer than MAX_RECORD_BYTES is dropped and reported, never held whole', () => {
    const big = new Uint8Array(MAX_RECORD_BYTES + 300_000).fill(0x61)
    const input = Buffer.concat([Buffer.from('first\n'), big, Buffer.from('\nlast')])
    let i = 0
    const got = readAll('lines', input, () => (i++ === 0 ? 6 : 256 * 1024))
    expect(got).toEqual([
      { key: null, value: Buffer.from('first').toString('hex') },
      `problem: line 2: longer than ${MAX_RECORD_BYTES} bytes: dropped up to the next delimiter`,
      { key: null, value: Buffer.from('last').toString('hex') },
    ])
    const frame = Buffer.alloc(8)
    frame.writeInt32BE(MAX_RECORD_BYTES + 1)
    expect(readAll('binary', Buffer.concat([frame, Buffer.from('more input')]), () => 3)).toEqual([
      `problem: record 1 (byte 0): frame length ${MAX_RECORD_BYTES + 1} is not in [-1, ${MAX_RECORD_BYTES}]: the rest of the input is ignored`,
    ])
  })

  it('JSON lines: fields, kcat -J names, and bad lines as problems with their line number', () => {
    const input = Buffer.from(
      '{"key":"k","value":"v","headers":{"a":"1"}}\n\nnot json\n[1]\n{"payload":"p","ts":5,"partition":2}\n{"value":"x","partition":-1}',
    )
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
        {
          name: 'a',
          numPartitions: 3,
          replicationFactor: 1,
          configs: [
            ['cleanup.policy', 'compact'],
            ['retention.ms', null],
          ],
        },
        { name: 'b', numPartitions: -1, replicationFactor: -1, configs: [] },
      ],
      timeoutMs: 30000,
      validateOnly: true,
    }
    const res: CreateTopicsResponse = {
      topics: [
        { name: 'a', errorCode: 0, errorMessage: null, numPartitions: 3, replicationFactor: 1 },
        {
          name: 'b',
          errorCode: 36,
          errorMessage: "Topic 'b' already exists.",
          numPartitions: -1,
          replicationFactor: -1,
        },
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
      const want =
        v >= 5 ? res : { topics: res.topics.map((t) => ({ ...t, numPartitions: -1, replicationFactor: -1 })) }
      expect(CreateTopics.decode(rr, v), `v${v}`).toEqual(want)
      expect(rr.remaining).toBe(0)
    }
  })
})

describe('isokafka perf: numbers as Java prints them', () => {
  it("javaFixed rounds as Java's String.format (%.1f, %.2f, %f)", () => {
    // printed by String.format("%.1f|%.2f|%f", x, x, x) on OpenJDK 17 (1.005 and 2.675 differ from toFixed)
    const java: Array<[number, string]> = [
      [1.005, '1.0|1.01|1.005000'],
      [0.125, '0.1|0.13|0.125000'],
      [2.675, '2.7|2.68|2.675000'],
      [1234.5678, '1234.6|1234.57|1234.567800'],
      [0.05, '0.1|0.05|0.050000'],
      [99.95, '100.0|99.95|99.950000'],
      [1e-7, '0.0|0.00|0.000000'],
      [123456789.123456789, '123456789.1|123456789.12|123456789.123457'],
      [2.5, '2.5|2.50|2.500000'],
      [0, '0.0|0.00|0.000000'],
    ]
    for (const [x, want] of java)
      expect([javaFixed(x, 1), javaFixed(x, 2), javaFixed(x, 6)].join('|'), String(x)).toBe(want)
    expect(javaFixed(NaN, 1)).toBe('NaN')
  })

  it('windows and the total line from known latencies and a fake clock', () => {
    let now = 1_000_000
    const lines: string[] = []
    const stats = new PerfStats(
      1000,
      false,
      5000,
      (l) => lines.push(l),
      () => now,
    )
    // 1000 records of 100 bytes over 10 s, latency i mod 100 ms: windows at 5 s and 10 s (the record that finds the
    // window 5000 ms old prints it, as Java's Stats.record does), then the total
    for (let i = 0; i < 1000; i++) {
      now += 10
      stats.record(i % 100, 100, now)
    }
    stats.printTotal()
    expect(lines).toEqual([
      '500 records sent, 100.0 records/sec (0.01 MB/sec), 49.5 ms avg latency, 99.0 ms max latency.',
      '500 records sent, 100.0 records/sec (0.01 MB/sec), 49.5 ms avg latency, 99.0 ms max latency.',
      // sorted latencies: ten of each 0..99; p50 = element 500 = 50, p95 = 950 -> 95, p99 = 990 -> 99, p99.9 = 999 -> 99
      '1000 records sent, 100.000000 records/sec (0.01 MB/sec), 49.50 ms avg latency, 99.00 ms max latency, 50 ms 50th, 95 ms 95th, 99 ms 99th, 99 ms 99.9th.',
    ])
  })
})
