import type { Reader, Writer } from './codec.js'

/**
 * One Kafka API as the client uses it: the versions we can encode/decode, where flexible encoding starts,
 * and the encoder/decoder pair. Each message is declared once, in src/protocol/messages/<name>.ts, with its wire
 * grammar as a comment next to the code (facts from apache/kafka clients/src/main/resources/common/message/*.json).
 */
export interface KafkaApi<Req, Res> {
  readonly name: string
  readonly apiKey: number
  readonly minVersion: number
  readonly maxVersion: number
  /** First version that uses compact strings/arrays and tagged fields. */
  readonly flexibleFrom: number
  /** Some responses (ApiVersions) always use response header v0, whatever the request version. */
  readonly responseHeaderAlwaysV0?: boolean
  encode(w: Writer, version: number, request: Req): void
  decode(r: Reader, version: number): Res
}

export const ApiKey = {
  Produce: 0,
  Metadata: 3,
  SaslHandshake: 17,
  ApiVersions: 18,
  InitProducerId: 22,
  SaslAuthenticate: 36,
} as const
