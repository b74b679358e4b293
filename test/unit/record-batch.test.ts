import { describe, expect, it } from 'vitest'
import {
  BATCH_HEADER_SIZE,
  RecordBatchBuilder,
  compressRecords,
  decodeRecordBatches,
  sealBatch,
} from '../../src/protocol/record-batch.js'
import { gzip } from '../../src/compression.js'
import { crc32c } from '../../src/protocol/crc32c.js'
import { MalformedResponseError } from '../../src/errors.js'

const enc = new TextEncoder()

function build() {
  const b = new RecordBatchBuilder(128)
  b.append({
    timestamp: 1_700_000_000_000,
    key: enc.encode('k1'),
    value: enc.encode('v1'),
    headers: [{ key: enc.encode('h'), value: enc.encode('x') }],
  })
  b.append({ timestamp: 1_700_000_000_005, key: null, value: enc.encode('v2'), headers: [] })
  b.append({
    timestamp: 1_699_999_999_000,
    key: enc.encode(''),
    value: null,
    headers: [{ key: enc.encode('n'), value: null }],
  })
  b.append({
    timestamp: 1_700_000_100_000,
    key: new Uint8Array(300).fill(7),
    value: new Uint8Array(70000).fill(9),
    headers: [],
  })
  return b
}

describe('RecordBatch v2', () => {
  it('seals a batch with a valid header and CRC32C and decodes it back', async () => {
    const b = build()
    const bytes = sealBatch(
      b.recordsBytes(),
      b.count,
      b.firstTimestamp,
      b.maxTimestamp,
      { producerId: 4242, producerEpoch: 3, baseSequence: 17 },
      null,
    )
    expect(bytes.length).toBe(b.sizeInBytes)
    const view = new DataView(bytes.buffer, bytes.byteOffset)
    expect(view.getInt32(8)).toBe(bytes.length - 12) // batchLength
    expect(bytes[16]).toBe(2) // magic
    expect(view.getUint32(17)).toBe(crc32c(bytes, 21))
    const [batch, ...rest] = await decodeRecordBatches(bytes)
    expect(rest).toEqual([])
    expect(batch).toMatchObject({
      producerId: 4242,
      producerEpoch: 3,
      baseSequence: 17,
      recordCount: 4,
      lastOffsetDelta: 3,
      codecId: 0,
    })
    expect(batch!.firstTimestamp).toBe(1_700_000_000_000)
    expect(batch!.maxTimestamp).toBe(1_700_000_100_000)
    const r = batch!.records
    expect(r.map((x) => x.offset)).toEqual([0, 1, 2, 3])
    expect(r.map((x) => x.timestamp)).toEqual([
      1_700_000_000_000, 1_700_000_000_005, 1_699_999_999_000, 1_700_000_100_000,
    ])
    expect(new TextDecoder().decode(r[0]!.key!)).toBe('k1')
    expect(r[0]!.headers).toEqual([['h', enc.encode('x')]])
    expect(r[1]!.key).toBeNull()
    expect(r[2]!.key).toEqual(new Uint8Array(0))
    expect(r[2]!.value).toBeNull()
    expect(r[2]!.headers).toEqual([['n', null]])
    expect(r[3]!.value!.length).toBe(70000)
  })

  it('compresses with gzip and decodes with the codec', async () => {
    const b = build()
    const compressed = await compressRecords(gzip, b.recordsBytes())
    const bytes = sealBatch(
      b.recordsBytes(),
      b.count,
      b.firstTimestamp,
      b.maxTimestamp,
      { producerId: -1, producerEpoch: -1, baseSequence: -1 },
      compressed,
    )
    expect(bytes.length).toBeLessThan(b.sizeInBytes / 10)
    expect(new DataView(bytes.buffer, bytes.byteOffset).getInt16(21) & 7).toBe(1)
    await expect(decodeRecordBatches(bytes)).rejects.toThrow(MalformedResponseError)
    const [batch] = await decodeRecordBatches(bytes, [gzip])
    expect(batch!.records.length).toBe(4)
    expect(batch!.records[3]!.value!.every((v) => v === 9)).toBe(true)
  })

  it('detects corruption and truncation', async () => {
    const b = build()
    const bytes = sealBatch(
      b.recordsBytes(),
      b.count,
      b.firstTimestamp,
      b.maxTimestamp,
      { producerId: 1, producerEpoch: 0, baseSequence: 0 },
      null,
    )
    const flipped = bytes.slice()
    flipped[BATCH_HEADER_SIZE + 3]! ^= 0x40
    await expect(decodeRecordBatches(flipped)).rejects.toThrow(/CRC/)
    await expect(decodeRecordBatches(bytes.subarray(0, bytes.length - 1))).rejects.toThrow(MalformedResponseError)
    await expect(decodeRecordBatches(bytes.subarray(0, 30))).rejects.toThrow(MalformedResponseError)
  })

  it('encodes a known single-record batch byte for byte', async () => {
    // one record, key null, value "a", timestamp 0, no producer id
    const b = new RecordBatchBuilder(64)
    b.append({ timestamp: 0, key: null, value: enc.encode('a'), headers: [] })
    const records = b.recordsBytes()
    // length 7: attrs 0, tsDelta 0, offsetDelta 0, keyLen -1 (0x01), valueLen 1 (0x02), 'a', headers 0
    expect([...records]).toEqual([0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, 0x61, 0x00])
    const bytes = sealBatch(records, 1, 0, 0, { producerId: -1, producerEpoch: -1, baseSequence: -1 }, null)
    expect(bytes.length).toBe(61 + 8)
  })
})
