// Shared by the hostile-answer suites of the browser transports (test/unit/fetch-hostile.test.ts,
// websocket-hostile.test.ts): a producer whose sends fail at the first error, and the checks on what came of a send.
import { expect } from 'vitest'
import type { IsoKafkaError } from '../../src/errors.js'
import { createProducer, type GatewayTransport } from '../../src/index.js'

/** A producer whose sends fail at the first error (retries: 0), so a send's rejection is the transport's error. */
export function strictProducer(
  transport: GatewayTransport,
  requestTimeoutMs: number,
  options: Record<string, unknown> = {},
): ReturnType<typeof createProducer> {
  return createProducer({ transport, lingerMs: 0, retries: 0, requestTimeoutMs, ...options })
}

/** The error a send failed with; throws if the record was acknowledged. */
export async function rejection(p: Promise<unknown>): Promise<IsoKafkaError> {
  const outcome = await p.then(
    (v) => ({ acked: v }),
    (e: IsoKafkaError) => ({ e }),
  )
  if ('acked' in outcome) throw new Error(`the record was acknowledged: ${JSON.stringify(outcome.acked)}`)
  return outcome.e
}

/** A send refused as a broken or hostile answer: MALFORMED_RESPONSE, retriable (unsure if written). */
export function expectMalformed(err: IsoKafkaError, message?: RegExp): void {
  expect(err.code, err.message).toBe('MALFORMED_RESPONSE')
  expect(err.retriable).toBe(true)
  if (message) expect(err.message).toMatch(message)
}

/**
 * Error-frame messages no client may take as they come, and the message the typed error must then carry: errorFromFrame
 * put the message in a template, where a map with non-callable toString/valueOf threw; it now takes a string only,
 * capped at 1,000 characters.
 */
export const HOSTILE_ERROR_MESSAGES: Array<[string, unknown, string]> = [
  ['a map with non-callable toString', { toString: 1, valueOf: 1 }, 'gateway: INTERNAL'],
  ['nested arrays', [[[1]], [2]], 'gateway: INTERNAL'],
  ['50,000 characters', 'x'.repeat(50_000), `gateway: ${'x'.repeat(1000)}`],
]

/** The producer acknowledges a record again, now the server behaves. */
export async function stillWorks(producer: ReturnType<typeof createProducer>, topic: string): Promise<void> {
  const meta = await producer.send({ topic, partition: 0, value: 'after' })
  expect(meta.offset).toBeGreaterThanOrEqual(0)
}
