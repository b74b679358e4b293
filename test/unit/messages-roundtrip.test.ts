import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MESSAGE_CASES } from '../helpers/protocol-arbitraries.js'
import {
  decodeRequestBody,
  decodeResponse,
  encodeRequest,
  encodeResponseFrame,
  readRequestHeader,
  readResponseHeader,
} from '../../src/protocol/framing.js'
import { serverApi } from '../../src/testing/handlers/index.js'
import { Reader, Writer } from '../../src/protocol/codec.js'
import { Produce } from '../../src/protocol/messages/produce.js'
import { ApiVersions } from '../../src/protocol/messages/api-versions.js'
import { Metadata } from '../../src/protocol/messages/metadata.js'

const RUNS = 150

describe.each(MESSAGE_CASES.map((c) => [c.api.name, c] as const))(
  '%s: both directions declared once, symmetric',
  (_name, c) => {
    const versions = Array.from({ length: c.versions[1] - c.versions[0] + 1 }, (_, i) => c.versions[0] + i)

    it.each(versions)('v%i: decodeRequest(encode(request)) is the request, header included', (v) => {
      fc.assert(
        fc.property(
          c.request(v),
          fc.option(fc.string({ maxLength: 10 }), { nil: null }),
          fc.integer({ min: 0, max: 0x7fffffff }),
          (req, clientId, corr) => {
            const frame = encodeRequest(c.api, v, corr, clientId, req)
            expect(new DataView(frame.buffer, frame.byteOffset).getInt32(0)).toBe(frame.length - 4)
            const { header, api, body } = readRequestHeader(frame.subarray(4), serverApi)
            expect(api).toBe(c.api)
            expect(header).toEqual({ apiKey: c.api.apiKey, apiVersion: v, correlationId: corr, clientId })
            expect(decodeRequestBody(c.api, v, body)).toEqual(req)
          },
        ),
        { numRuns: RUNS },
      )
    })

    it.each(versions)('v%i: decode(encodeResponse(response)) is the response, header included', (v) => {
      fc.assert(
        fc.property(c.response(v), fc.integer({ min: 0, max: 0x7fffffff }), (res, corr) => {
          const frame = encodeResponseFrame(c.api, v, corr, res)
          expect(new DataView(frame.buffer, frame.byteOffset).getInt32(0)).toBe(frame.length - 4)
          const { correlationId, body } = readResponseHeader(frame.subarray(4), c.api, v)
          expect(correlationId).toBe(corr)
          expect(decodeResponse(c.api, v, body)).toEqual(res)
        }),
        { numRuns: RUNS },
      )
    })
  },
)

describe('wire details', () => {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

  it('Produce v10+ carries current_leader and node_endpoints as tag 0', () => {
    const res = {
      topics: [
        {
          topic: 't',
          partitions: [
            {
              partition: 0,
              errorCode: 6,
              baseOffset: -1,
              logAppendTimeMs: -1,
              logStartOffset: -1,
              recordErrors: [],
              errorMessage: null,
              currentLeader: { leaderId: 2, leaderEpoch: 7 },
            },
          ],
        },
      ],
      throttleTimeMs: 0,
      nodeEndpoints: [{ nodeId: 2, host: 'h', port: 9092, rack: null }],
    }
    const w = new Writer()
    Produce.encodeResponse(w, 10, res)
    const partitionTags = '01' + '00' + '09' + '00000002' + '00000007' + '00' // 1 tag: tag 0, 9 bytes: leader 2, epoch 7, no tags
    const topTags = '01' + '00' + '0d' + '02' + '00000002' + '0268' + '00002384' + '00' + '00' // endpoints: [2, "h", 9092, null]
    expect(hex(w.finish())).toBe(
      '02' +
        '0274' +
        '02' +
        '00000000' +
        '0006' +
        'ff'.repeat(8) +
        'ff'.repeat(8) +
        'ff'.repeat(8) +
        '01' +
        '00' +
        partitionTags +
        '00' +
        '00000000' +
        topTags,
    )
    expect(Produce.decode(new Reader(w.finish()), 10)).toEqual(res)
    // v9 has no such tags: the same response is written without them (and read back without them)
    const v9 = new Writer()
    Produce.encodeResponse(v9, 9, res)
    const { nodeEndpoints: _e, ...rest } = res
    expect(Produce.decode(new Reader(v9.finish()), 9)).toEqual({
      ...rest,
      topics: [{ topic: 't', partitions: [{ ...res.topics[0]!.partitions[0]!, currentLeader: undefined }] }],
    })
    // unknown tags are skipped
    const unknown = hex(w.finish()).replace(partitionTags, '01' + '05' + '02' + 'abcd')
    const bytes = Uint8Array.from(unknown.match(/../g)!.map((x) => parseInt(x, 16)))
    expect(Produce.decode(new Reader(bytes), 10).topics[0]!.partitions[0]!.currentLeader).toBeUndefined()
  })

  it('ApiVersions: an UNSUPPORTED_VERSION answer is read in v0 layout whatever version was asked', () => {
    const w = new Writer()
    ApiVersions.encodeResponse(w, 0, {
      errorCode: 35,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 2 }],
      throttleTimeMs: 0,
    })
    const frame = new Uint8Array(4 + w.pos)
    new DataView(frame.buffer).setInt32(0, 99)
    frame.set(w.finish(), 4)
    const { body } = readResponseHeader(frame, ApiVersions, 3)
    expect(decodeResponse(ApiVersions, 3, body)).toEqual({
      errorCode: 35,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 2 }],
      throttleTimeMs: 0,
    })
  })

  it('Metadata v0: a non-nullable topic array, empty meaning every topic; no rack, controller or is_internal', () => {
    const w = new Writer()
    Metadata.encode(w, 0, { topics: null, allowAutoTopicCreation: true })
    expect(hex(w.finish())).toBe('00000000')
    const r = new Writer()
    Metadata.encodeResponse(r, 0, {
      brokers: [{ nodeId: 1, host: 'h', port: 2, rack: 'ignored' }],
      clusterId: 'ignored',
      controllerId: 5,
      topics: [],
    })
    expect(hex(r.finish())).toBe('00000001' + '00000001' + '000168' + '00000002' + '00000000')
  })
})
