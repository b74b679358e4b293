import { describe, expect, it } from 'vitest'
import { Writer } from '../../src/protocol/codec.js'
import {
  FrameDecoder,
  decodeResponse,
  encodeRequest,
  encodeRequestChunks,
  readResponseHeader,
} from '../../src/protocol/framing.js'
import { ApiVersions } from '../../src/protocol/messages/api-versions.js'
import { Metadata } from '../../src/protocol/messages/metadata.js'
import { Produce } from '../../src/protocol/messages/produce.js'
import { InitProducerId } from '../../src/protocol/messages/init-producer-id.js'
import { MalformedResponseError } from '../../src/errors.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('request framing', () => {
  it('encodes ApiVersions v3 with header v2 exactly', () => {
    const bytes = encodeRequest(ApiVersions, 3, 7, 'cli', { clientSoftwareName: 'ik', clientSoftwareVersion: '1' })
    // size | key 18 | v3 | corr 7 | client_id "cli" | tags | "ik" | "1" | tags
    expect(hex(bytes)).toBe('00000014' + '0012' + '0003' + '00000007' + '0003636c69' + '00' + '03696b' + '0231' + '00')
  })

  it('encodes InitProducerId v4 and Metadata v12 requests', () => {
    const ipid = encodeRequest(InitProducerId, 4, 1, null, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
      producerId: -1,
      producerEpoch: -1,
    })
    expect(hex(ipid)).toBe(
      '0000001b' + '0016000400000001ffff00' + '00' + '0000ea60' + 'ffffffffffffffff' + 'ffff' + '00',
    )
    const md = encodeRequest(Metadata, 12, 2, null, { topics: ['t'], allowAutoTopicCreation: false })
    // header, topics compact array(1): uuid zero, name "t", tags; auto-create false; include_topic_ops false; tags
    expect(hex(md).slice(8)).toBe('0003000c00000002ffff00' + '02' + '00'.repeat(16) + '027400' + '00' + '00' + '00')
  })

  it('decodes a Produce v9 response and rejects trailing garbage', () => {
    const w = new Writer()
    w.int32(5).uvarint(0) // correlation id + header tags
    w.uvarint(2).compactString('t').uvarint(2)
    w.int32(3).int16(0).int64(100).int64(-1).int64(0).uvarint(1).compactNullableString(null).uvarint(0)
    w.uvarint(0).int32(0).uvarint(0)
    const frame = w.finish()
    const { correlationId, body } = readResponseHeader(frame, Produce, 9)
    expect(correlationId).toBe(5)
    const res = decodeResponse(Produce, 9, body)
    expect(res.topics[0]!.partitions[0]).toMatchObject({
      partition: 3,
      errorCode: 0,
      baseOffset: 100,
      logAppendTimeMs: -1,
    })
    const longer = new Uint8Array(frame.length + 1)
    longer.set(frame)
    expect(() => decodeResponse(Produce, 9, readResponseHeader(longer, Produce, 9).body)).toThrow(
      MalformedResponseError,
    )
    expect(() => decodeResponse(Produce, 9, readResponseHeader(frame.subarray(0, 20), Produce, 9).body)).toThrow(
      MalformedResponseError,
    )
  })

  it('splits a byte stream into frames across arbitrary chunk boundaries', () => {
    const frames = [Uint8Array.of(1, 2, 3), new Uint8Array(0), new Uint8Array(5000).fill(4)]
    const stream: number[] = []
    for (const f of frames) stream.push(0, (f.length >> 16) & 255, (f.length >> 8) & 255, f.length & 255, ...f)
    const all = Uint8Array.from(stream)
    for (const chunk of [1, 2, 3, 7, 100, all.length]) {
      const d = new FrameDecoder()
      const out: Uint8Array[] = []
      for (let i = 0; i < all.length; i += chunk) out.push(...d.push(all.subarray(i, i + chunk)))
      expect(out.map((f) => f.length)).toEqual([3, 0, 5000])
    }
    expect(() => new FrameDecoder(1000).push(Uint8Array.of(0, 0, 0x10, 0))).toThrow(MalformedResponseError)
  })
})

describe('request frames as chunks (record batches by reference)', () => {
  const batch = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)
  const request = (records: Uint8Array[]) => ({
    transactionalId: null,
    acks: -1 as const,
    timeoutMs: 30_000,
    topics: [
      {
        topic: 'a',
        partitions: [
          { partition: 0, records: records[0]! },
          { partition: 1, records: records[1]! },
        ],
      },
      { topic: 'b', partitions: [{ partition: 3, records: records[2]! }] },
    ],
  })
  const concat = (chunks: Uint8Array[]) => {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const c of chunks) out.set(c, at), (at += c.length)
    return out
  }

  for (const version of [3, 8, 9, 11]) {
    it(`Produce v${version}: the chunks together are byte for byte the copied frame; batches ≥ shareFrom are the same arrays`, () => {
      const records = [batch(5000, 1), batch(100, 2), batch(70_000, 3)]
      const copied = encodeRequest(Produce, version, 42, 'cid', request(records), 64)
      // a tiny initial buffer forces the writer to grow after the first cut: the size must still land in chunk 0
      const chunks = encodeRequestChunks(Produce, version, 42, 'cid', request(records), 8, 1024)
      expect(concat(chunks)).toEqual(copied)
      expect(chunks.filter((c) => (records as Uint8Array[]).includes(c as Uint8Array))).toEqual([
        records[0],
        records[2],
      ]) // the 100-byte one is copied
      expect(new DataView(chunks[0]!.buffer, chunks[0]!.byteOffset).getInt32(0)).toBe(copied.length - 4)
    })
  }

  it('with nothing to share it is one chunk, equal to encodeRequest', () => {
    const records = [batch(10, 1), batch(20, 2), batch(30, 3)]
    const chunks = encodeRequestChunks(Produce, 9, 7, null, request(records), 512, 1024)
    expect(chunks).toHaveLength(1)
    expect(chunks[0]).toEqual(encodeRequest(Produce, 9, 7, null, request(records)))
  })

  it('a writer that shared bytes refuses finish() (its buffer alone is not the message)', () => {
    const w = new Writer(16)
    w.shareFrom = 4
    w.int8(1).raw(batch(8, 9))
    expect(() => w.finish()).toThrow(/finishChunks/)
    const { chunks, length } = w.finishChunks()
    expect(length).toBe(9)
    expect(concat(chunks)).toEqual(Uint8Array.from([1, 9, 9, 9, 9, 9, 9, 9, 9]))
  })
})
