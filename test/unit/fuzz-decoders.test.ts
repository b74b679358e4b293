import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MESSAGE_CASES, mutate, mutations } from '../helpers/protocol-arbitraries.js'
import { Writer } from '../../src/protocol/codec.js'
import {
  decodeRequestBody,
  decodeResponse,
  encodeResponseFrame,
  FrameDecoder,
  readRequestHeader,
  readResponseHeader,
} from '../../src/protocol/framing.js'
import {
  BATCH_HEADER_SIZE,
  RecordBatchBuilder,
  compressRecords,
  decodeRecordBatches,
  sealBatch,
} from '../../src/protocol/record-batch.js'
import { crc32c } from '../../src/protocol/crc32c.js'
import { gzip } from '../../src/compression.js'
import { MalformedResponseError } from '../../src/errors.js'
import { serverApi } from '../../src/testing/handlers/index.js'

/*
 * Random and mutated bytes into every decoder the client runs on broker input (and the ones the fake broker runs on
 * client input): each must return or throw MalformedResponseError, nothing else, and never hang.
 * FUZZ_RUNS sets the runs per property (default 8000: about 130k cases over the file, some seconds on 2 cores;
 * the async record-batch properties run a third of that, the round-trip sanity check a twentieth).
 */
const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 8000))
const ASYNC_RUNS = Math.max(1, Math.ceil(RUNS / 3))
const TIMEOUT = 120_000

/** Runs `fn`; anything thrown other than MalformedResponseError fails the property. */
function onlyMalformed(fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof MalformedResponseError))
      throw new Error(`threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`, { cause: err })
  }
}
async function onlyMalformedAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn()
  } catch (err) {
    if (!(err instanceof MalformedResponseError))
      throw new Error(`threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`, { cause: err })
  }
}

/** Client side: a whole response frame (no size prefix) through header and body decoding, as BrokerConnection does. */
function decodeFrame(api: (typeof MESSAGE_CASES)[number]['api'], version: number, frame: Uint8Array): void {
  const { body } = readResponseHeader(frame, api, version)
  decodeResponse(api, version, body)
}

const clientVersions = (c: (typeof MESSAGE_CASES)[number]) => fc.integer({ min: c.versions[0], max: c.versions[1] })

describe('response decoders only throw MalformedResponseError', () => {
  for (const c of MESSAGE_CASES) {
    it(
      `${c.api.name}: random bytes`,
      () => {
        fc.assert(
          fc.property(clientVersions(c), fc.uint8Array({ maxLength: 300 }), (v, bytes) =>
            onlyMalformed(() => decodeFrame(c.api, v, bytes)),
          ),
          { numRuns: RUNS },
        )
      },
      TIMEOUT,
    )

    it(
      `${c.api.name}: mutated valid responses`,
      () => {
        const arb = clientVersions(c).chain((v) => fc.tuple(fc.constant(v), c.response(v), mutations))
        fc.assert(
          fc.property(arb, ([v, res, muts]) => {
            const frame = encodeResponseFrame(c.api, v, 1, res).subarray(4)
            onlyMalformed(() => decodeFrame(c.api, v, mutate(frame, muts)))
          }),
          { numRuns: RUNS },
        )
      },
      TIMEOUT,
    )
  }

  it(
    'every request decoder of the fake broker: random and mutated requests',
    () => {
      const arb = fc
        .constantFrom(...MESSAGE_CASES)
        .chain((c) =>
          clientVersions(c).chain((v) =>
            fc.tuple(
              fc.constant(c),
              fc.constant(v),
              c.request(v),
              mutations,
              fc.uint8Array({ maxLength: 100 }),
              fc.boolean(),
            ),
          ),
        )
      fc.assert(
        fc.property(arb, ([c, v, req, muts, random, useRandom]) => {
          // request header v1/v2: api key, version, correlation id 1, null client id (+ empty tags when flexible)
          const header = new Uint8Array([
            0,
            c.api.apiKey,
            0,
            v,
            0,
            0,
            0,
            1,
            0xff,
            0xff,
            ...(v >= c.api.flexibleFrom ? [0] : []),
          ])
          const body = useRandom ? random : mutate(encodeBody(c, v, req), muts)
          const frame = new Uint8Array(header.length + body.length)
          frame.set(header)
          frame.set(body, header.length)
          onlyMalformed(() => {
            const { api, body: r } = readRequestHeader(frame, serverApi)
            decodeRequestBody(api!, v, r)
          })
        }),
        { numRuns: RUNS },
      )
    },
    TIMEOUT,
  )
})

/** A request body alone (no size, no header), as the client encodes it. */
function encodeBody(c: (typeof MESSAGE_CASES)[number], v: number, req: unknown): Uint8Array {
  const out = new Writer(64)
  c.api.encode(out, v, req)
  return out.finish().slice()
}

describe('FrameDecoder', () => {
  it(
    'random chunks: frames or MalformedResponseError, never more bytes out than in',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
          fc.integer({ min: 8, max: 4096 }),
          (chunks, limit) => {
            const d = new FrameDecoder(limit)
            let inBytes = 0
            let outBytes = 0
            onlyMalformed(() => {
              for (const chunk of chunks) {
                inBytes += chunk.length
                for (const f of d.push(chunk)) {
                  expect(f.length).toBeLessThanOrEqual(limit)
                  outBytes += f.length + 4
                }
              }
            })
            expect(outBytes).toBeLessThanOrEqual(inBytes)
          },
        ),
        { numRuns: RUNS },
      )
    },
    TIMEOUT,
  )

  it(
    'valid frames split anywhere come out whole and in order',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          (frames, cuts) => {
            const total = frames.reduce((n, f) => n + 4 + f.length, 0)
            const stream = new Uint8Array(total)
            let at = 0
            for (const f of frames) {
              new DataView(stream.buffer).setInt32(at, f.length)
              stream.set(f, at + 4)
              at += 4 + f.length
            }
            const points = [...new Set(cuts.map((c) => (total === 0 ? 0 : c % total)))].sort((a, b) => a - b)
            const d = new FrameDecoder()
            const out: Uint8Array[] = []
            let prev = 0
            for (const p of [...points, total]) {
              out.push(...d.push(stream.subarray(prev, p)))
              prev = p
            }
            expect(out).toEqual(frames)
          },
        ),
        { numRuns: RUNS },
      )
    },
    TIMEOUT,
  )
})

// ---- record batches ----

const enc = new TextEncoder()
const recordArb = fc.record({
  ts: fc.integer({ min: 0, max: 2 ** 42 }),
  key: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 60 }), { nil: null }),
  headers: fc.array(
    fc.record({
      key: fc.string({ maxLength: 6 }).map((s) => enc.encode(s)),
      value: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }),
    }),
    { maxLength: 3 },
  ),
})

function buildBatch(
  records: Array<{
    ts: number
    key: Uint8Array | null
    value: Uint8Array | null
    headers: Array<{ key: Uint8Array; value: Uint8Array | null }>
  }>,
) {
  const b = new RecordBatchBuilder(256)
  for (const r of records) b.append({ timestamp: r.ts, key: r.key, value: r.value, headers: r.headers })
  return b
}

/** Rewrites the CRC so a mutation behind the header is checked by the record parser, not just by the CRC. */
function fixCrc(batch: Uint8Array): Uint8Array {
  if (batch.length >= BATCH_HEADER_SIZE)
    new DataView(batch.buffer, batch.byteOffset, batch.byteLength).setUint32(17, crc32c(batch, 21, batch.length))
  return batch
}

describe('decodeRecordBatches only throws MalformedResponseError', () => {
  it(
    'random bytes',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.boolean(), async (bytes, withGzip) =>
          onlyMalformedAsync(() => decodeRecordBatches(bytes, withGzip ? [gzip] : [])),
        ),
        { numRuns: ASYNC_RUNS, timeout: 2000 },
      )
    },
    TIMEOUT,
  )

  it(
    'mutated valid batches (CRC fixed up, so the records are parsed)',
    async () => {
      const arb = fc.tuple(fc.array(recordArb, { minLength: 1, maxLength: 5 }), mutations, fc.boolean())
      await fc.assert(
        fc.asyncProperty(arb, async ([records, muts, keepCrc]) => {
          const b = buildBatch(records)
          const sealed = sealBatch(
            b.recordsBytes(),
            b.count,
            b.firstTimestamp,
            b.maxTimestamp,
            { producerId: 7, producerEpoch: 1, baseSequence: 3 },
            null,
          )
          const bad = mutate(sealed, muts, 8) // keep the base offset, mutate from the length on
          await onlyMalformedAsync(() => decodeRecordBatches(keepCrc ? bad : fixCrc(bad)))
        }),
        { numRuns: RUNS, timeout: 2000 },
      )
    },
    TIMEOUT,
  )

  it(
    'mutated gzip batches: bad compressed data is MalformedResponseError too',
    async () => {
      const arb = fc.tuple(fc.array(recordArb, { minLength: 1, maxLength: 3 }), mutations)
      await fc.assert(
        fc.asyncProperty(arb, async ([records, muts]) => {
          const b = buildBatch(records)
          const sealed = sealBatch(
            b.recordsBytes(),
            b.count,
            b.firstTimestamp,
            b.maxTimestamp,
            { producerId: -1, producerEpoch: -1, baseSequence: -1 },
            await compressRecords(gzip, b.recordsBytes()),
          )
          const bad = fixCrc(mutate(sealed, muts, BATCH_HEADER_SIZE)) // damage the compressed body only
          await onlyMalformedAsync(() => decodeRecordBatches(bad, [gzip]))
        }),
        { numRuns: ASYNC_RUNS, timeout: 2000 },
      )
    },
    TIMEOUT,
  )

  it(
    'unmutated batches decode to what was built',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(recordArb, { minLength: 1, maxLength: 5 }),
          fc.boolean(),
          async (records, compress) => {
            const b = buildBatch(records)
            const sealed = sealBatch(
              b.recordsBytes(),
              b.count,
              b.firstTimestamp,
              b.maxTimestamp,
              { producerId: 9, producerEpoch: 0, baseSequence: 0 },
              compress ? await compressRecords(gzip, b.recordsBytes()) : null,
            )
            const [batch] = await decodeRecordBatches(sealed, [gzip])
            expect(batch!.records.map((r) => [r.timestamp, r.key, r.value])).toEqual(
              records.map((r) => [r.ts, r.key, r.value]),
            )
          },
        ),
        { numRuns: Math.ceil(RUNS / 20) },
      )
    },
    TIMEOUT,
  )
})
