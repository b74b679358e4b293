import fc from 'fast-check'
import type { KafkaApi } from '../../src/protocol/api.js'
import {
  ApiVersions,
  type ApiVersionsRequest,
  type ApiVersionsResponse,
} from '../../src/protocol/messages/api-versions.js'
import {
  InitProducerId,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
} from '../../src/protocol/messages/init-producer-id.js'
import { Metadata, type MetadataRequest, type MetadataResponse } from '../../src/protocol/messages/metadata.js'
import { Produce, type ProduceRequest, type ProduceResponse } from '../../src/protocol/messages/produce.js'
import { SaslAuthenticate, SaslHandshake } from '../../src/protocol/messages/sasl.js'
import {
  FindCoordinator,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from '../../src/protocol/messages/find-coordinator.js'
import {
  AddPartitionsToTxn,
  type AddPartitionsToTxnRequest,
  type AddPartitionsToTxnResponse,
} from '../../src/protocol/messages/add-partitions-to-txn.js'
import {
  AddOffsetsToTxn,
  type AddOffsetsToTxnRequest,
  type AddOffsetsToTxnResponse,
} from '../../src/protocol/messages/add-offsets-to-txn.js'
import { EndTxn, type EndTxnRequest, type EndTxnResponse } from '../../src/protocol/messages/end-txn.js'
import {
  TxnOffsetCommit,
  type TxnOffsetCommitRequest,
  type TxnOffsetCommitResponse,
} from '../../src/protocol/messages/txn-offset-commit.js'

/**
 * fast-check arbitraries for every message, both directions, normalized per version: a field a version does not
 * carry holds the value the decoder gives it, so decode(encode(x)) can be compared with x.
 */

const int16 = fc.integer({ min: -32768, max: 32767 })
const int32 = fc.integer({ min: -2147483648, max: 2147483647 })
const int64 = fc.maxSafeInteger()
const str = fc.string({ unit: 'grapheme', maxLength: 12 })
const nstr = fc.option(str, { nil: null })
const bytes = fc.uint8Array({ maxLength: 40 })

export interface MessageCase<Req, Res> {
  api: KafkaApi<Req, Res>
  /** Versions whose grammar is declared (client and broker side). */
  versions: [number, number]
  request(v: number): fc.Arbitrary<Req>
  response(v: number): fc.Arbitrary<Res>
}

const apiVersions: MessageCase<ApiVersionsRequest, ApiVersionsResponse> = {
  api: ApiVersions,
  versions: [0, 4],
  request: (v) =>
    v >= 3
      ? fc.record({ clientSoftwareName: str, clientSoftwareVersion: str })
      : fc.constant({ clientSoftwareName: '', clientSoftwareVersion: '' }),
  response: (v) =>
    fc.record(
      {
        // UNSUPPORTED_VERSION (35) always means a v0 body; keep it out of the other versions
        errorCode: int16.filter((c) => v === 0 || c !== 35),
        apiKeys: fc.array(fc.record({ apiKey: int16, minVersion: int16, maxVersion: int16 }), { maxLength: 8 }),
        throttleTimeMs: v >= 1 ? int32 : fc.constant(0),
        // tag 2 (v3+): absent, or a non-empty name → max level map
        finalizedFeatures:
          v >= 3
            ? fc.option(
                fc.array(fc.tuple(str, int16), { minLength: 1, maxLength: 4 }).map((a) => new Map(a)),
                { nil: undefined },
              )
            : fc.constant(undefined),
      },
      { requiredKeys: ['errorCode', 'apiKeys', 'throttleTimeMs'] },
    ),
}

const metadata: MessageCase<MetadataRequest, MetadataResponse> = {
  api: Metadata,
  versions: [0, 12],
  request: (v) =>
    fc.record({
      topics:
        v === 0
          ? fc.option(
              fc.array(
                str.filter((s) => s.length > 0),
                { minLength: 1, maxLength: 4 },
              ),
              { nil: null },
            )
          : fc.option(fc.array(str, { maxLength: 4 }), { nil: null }),
      allowAutoTopicCreation: v >= 4 ? fc.boolean() : fc.constant(true),
    }),
  response: (v) =>
    fc.record({
      brokers: fc.array(fc.record({ nodeId: int32, host: str, port: int32, rack: v >= 1 ? nstr : fc.constant(null) }), {
        maxLength: 4,
      }),
      clusterId: v >= 2 ? nstr : fc.constant(null),
      controllerId: v >= 1 ? int32 : fc.constant(-1),
      topics: fc.array(
        fc.record({
          errorCode: int16,
          name: str,
          isInternal: v >= 1 ? fc.boolean() : fc.constant(false),
          partitions: fc.array(
            fc.record({
              errorCode: int16,
              partition: int32,
              leaderId: int32,
              leaderEpoch: v >= 7 ? int32 : fc.constant(-1),
              replicas: fc.array(int32, { maxLength: 4 }),
              isr: fc.array(int32, { maxLength: 4 }),
            }),
            { maxLength: 4 },
          ),
        }),
        { maxLength: 4 },
      ),
    }),
}

const initProducerId: MessageCase<InitProducerIdRequest, InitProducerIdResponse> = {
  api: InitProducerId,
  versions: [0, 4],
  request: (v) =>
    fc.record({
      transactionalId: nstr,
      transactionTimeoutMs: int32,
      producerId: v >= 3 ? int64 : fc.constant(-1),
      producerEpoch: v >= 3 ? int16 : fc.constant(-1),
    }),
  response: () => fc.record({ errorCode: int16, producerId: int64, producerEpoch: int16 }),
}

const produce: MessageCase<ProduceRequest, ProduceResponse> = {
  api: Produce,
  versions: [3, 12],
  request: () =>
    fc.record({
      transactionalId: nstr,
      acks: int16,
      timeoutMs: int32,
      topics: fc.array(
        fc.record({
          topic: str,
          partitions: fc.array(fc.record({ partition: int32, records: bytes }), { maxLength: 3 }),
        }),
        { maxLength: 3 },
      ),
    }),
  response: (v) =>
    fc
      .record({
        topics: fc.array(
          fc.record({
            topic: str,
            partitions: fc.array(
              fc.record({
                partition: int32,
                errorCode: int16,
                baseOffset: int64,
                logAppendTimeMs: int64,
                logStartOffset: v >= 5 ? int64 : fc.constant(-1),
                recordErrors:
                  v >= 8
                    ? fc.array(fc.record({ batchIndex: int32, message: nstr }), { maxLength: 3 })
                    : fc.constant<Array<{ batchIndex: number; message: string | null }>>([]),
                errorMessage: v >= 8 ? nstr : fc.constant(null),
                currentLeader:
                  v >= 10
                    ? fc.option(fc.record({ leaderId: int32, leaderEpoch: int32 }), { nil: undefined })
                    : fc.constant(undefined),
              }),
              { maxLength: 3 },
            ),
          }),
          { maxLength: 3 },
        ),
        throttleTimeMs: int32,
        nodeEndpoints:
          v >= 10
            ? fc.option(
                fc.array(fc.record({ nodeId: int32, host: str, port: int32, rack: nstr }), {
                  minLength: 1,
                  maxLength: 3,
                }),
                { nil: undefined },
              )
            : fc.constant(undefined),
      })
      .map((r) => strip(r)),
}

const saslHandshake: MessageCase<{ mechanism: string }, { errorCode: number; mechanisms: string[] }> = {
  api: SaslHandshake,
  versions: [0, 1],
  request: () => fc.record({ mechanism: str }),
  response: () => fc.record({ errorCode: int16, mechanisms: fc.array(str, { maxLength: 4 }) }),
}

const saslAuthenticate: MessageCase<
  { authBytes: Uint8Array },
  { errorCode: number; errorMessage: string | null; authBytes: Uint8Array; sessionLifetimeMs: number }
> = {
  api: SaslAuthenticate,
  versions: [0, 2],
  request: () => fc.record({ authBytes: bytes }),
  response: (v) =>
    fc.record({
      errorCode: int16,
      errorMessage: nstr,
      authBytes: bytes,
      sessionLifetimeMs: v >= 1 ? int64 : fc.constant(0),
    }),
}

/** Drops keys whose value is undefined (optional fields a decoder leaves out). */
function strip<T>(value: T): T {
  if (Array.isArray(value)) return value.map(strip) as T
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, strip(v)]),
    ) as T
  }
  return value
}

const partitionErrors = fc.array(
  fc.record({ topic: str, partitions: fc.array(fc.record({ partition: int32, errorCode: int16 }), { maxLength: 4 }) }),
  { maxLength: 3 },
)

const findCoordinator: MessageCase<FindCoordinatorRequest, FindCoordinatorResponse> = {
  api: FindCoordinator,
  versions: [1, 6],
  request: (v) =>
    fc.record({
      keyType: fc.integer({ min: 0, max: 2 }),
      keys: v >= 4 ? fc.array(str, { maxLength: 4 }) : fc.tuple(str),
    }),
  response: (v) => {
    const c = (key: fc.Arbitrary<string>) =>
      fc.record({ key, nodeId: int32, host: str, port: int32, errorCode: int16, errorMessage: nstr })
    return fc.record({ coordinators: v >= 4 ? fc.array(c(str), { maxLength: 4 }) : fc.tuple(c(fc.constant(''))) })
  },
}

const addPartitionsToTxn: MessageCase<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  api: AddPartitionsToTxn,
  versions: [0, 3],
  request: () =>
    fc.record({
      transactionalId: str,
      producerId: int64,
      producerEpoch: int16,
      topics: fc.array(fc.record({ topic: str, partitions: fc.array(int32, { maxLength: 4 }) }), { maxLength: 3 }),
    }),
  response: () => fc.record({ results: partitionErrors }),
}

const addOffsetsToTxn: MessageCase<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  api: AddOffsetsToTxn,
  versions: [0, 4],
  request: () => fc.record({ transactionalId: str, producerId: int64, producerEpoch: int16, groupId: str }),
  response: () => fc.record({ errorCode: int16 }),
}

const endTxn: MessageCase<EndTxnRequest, EndTxnResponse> = {
  api: EndTxn,
  versions: [0, 5],
  request: () => fc.record({ transactionalId: str, producerId: int64, producerEpoch: int16, committed: fc.boolean() }),
  response: (v) =>
    fc.record({
      errorCode: int16,
      producerId: v >= 5 ? int64 : fc.constant(-1),
      producerEpoch: v >= 5 ? int16 : fc.constant(-1),
    }),
}

const txnOffsetCommit: MessageCase<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = {
  api: TxnOffsetCommit,
  versions: [0, 5],
  request: (v) =>
    fc.record({
      transactionalId: str,
      groupId: str,
      producerId: int64,
      producerEpoch: int16,
      generationId: v >= 3 ? int32 : fc.constant(-1),
      memberId: v >= 3 ? str : fc.constant(''),
      groupInstanceId: v >= 3 ? nstr : fc.constant(null),
      topics: fc.array(
        fc.record({
          topic: str,
          partitions: fc.array(
            fc.record({
              partition: int32,
              offset: int64,
              leaderEpoch: v >= 2 ? int32 : fc.constant(-1),
              metadata: nstr,
            }),
            { maxLength: 3 },
          ),
        }),
        { maxLength: 3 },
      ),
    }),
  response: () => fc.record({ results: partitionErrors }),
}

export const MESSAGE_CASES: Array<MessageCase<any, any>> = [
  apiVersions,
  metadata,
  initProducerId,
  produce,
  saslHandshake,
  saslAuthenticate,
  findCoordinator,
  addPartitionsToTxn,
  addOffsetsToTxn,
  endTxn,
  txnOffsetCommit,
]

/** A list of byte-level mutations: overwrite, truncate, insert, delete, plant a huge or negative length. */
export const mutations = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      data: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
    fc.record({
      kind: fc.constant('length' as const),
      at: fc.nat(),
      value: fc.constantFrom(0x7fffffff, 0xffffffff, 0x80000000, 0x0000ffff, 0xfffffffe),
    }),
  ),
  { minLength: 1, maxLength: 4 },
)

export type Mutation = typeof mutations extends fc.Arbitrary<Array<infer M>> ? M : never

export function mutate(input: Uint8Array, list: readonly Mutation[], from = 0): Uint8Array {
  let b = input.slice()
  for (const m of list) {
    const span = b.length - from
    if (span <= 0) break
    const at = from + (m.at % span)
    switch (m.kind) {
      case 'set':
        b[at] = m.value
        break
      case 'truncate':
        b = b.slice(0, at)
        break
      case 'insert': {
        const out = new Uint8Array(b.length + m.data.length)
        out.set(b.subarray(0, at))
        out.set(m.data, at)
        out.set(b.subarray(at), at + m.data.length)
        b = out
        break
      }
      case 'delete': {
        const end = Math.min(b.length, at + m.length)
        const out = new Uint8Array(b.length - (end - at))
        out.set(b.subarray(0, at))
        out.set(b.subarray(end), at)
        b = out
        break
      }
      case 'length':
        if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, m.value)
        break
    }
  }
  return b
}
