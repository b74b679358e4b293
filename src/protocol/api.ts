import type { Reader, Writer } from './codec.js'

/**
 * One Kafka API: the versions the client uses, where flexible encoding starts, and the codec for both directions.
 * Each message is declared once, in src/protocol/messages/<name>.ts, with its wire grammar as a comment next to the
 * code (facts from apache/kafka clients/src/main/resources/common/message/*.json).
 *
 * `encode`/`decode` are the client's side (write a request, read a response). `decodeRequest`/`encodeResponse` are
 * the broker's side, used by the in-process fake cluster (src/testing/); they follow the same grammar and may cover
 * more versions than the client negotiates (the ones a Kafka 4.x broker advertises).
 */
export interface KafkaApi<Req, Res> {
  readonly name: string
  readonly apiKey: number
  /** Versions the client negotiates. */
  readonly minVersion: number
  readonly maxVersion: number
  /** First version that uses compact strings/arrays and tagged fields. */
  readonly flexibleFrom: number
  /** Some responses (ApiVersions) always use response header v0, whatever the request version. */
  readonly responseHeaderAlwaysV0?: boolean
  encode(w: Writer, version: number, request: Req): void
  decode(r: Reader, version: number): Res
  /** Broker side: read a request body (after the request header). */
  decodeRequest?(r: Reader, version: number): Req
  /** Broker side: write a response body (after the response header). */
  encodeResponse?(w: Writer, version: number, response: Res): void
}

/** An API with both directions declared (every message module in src/protocol/messages/). */
export type ServerKafkaApi<Req, Res> = KafkaApi<Req, Res> &
  Required<Pick<KafkaApi<Req, Res>, 'decodeRequest' | 'encodeResponse'>>

export const ApiKey = {
  Produce: 0,
  Metadata: 3,
  FindCoordinator: 10,
  SaslHandshake: 17,
  ApiVersions: 18,
  InitProducerId: 22,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  TxnOffsetCommit: 28,
  SaslAuthenticate: 36,
} as const
