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

/** The producer acknowledges a record again, now the server behaves. */
export async function stillWorks(producer: ReturnType<typeof createProducer>, topic: string): Promise<void> {
  const meta = await producer.send({ topic, partition: 0, value: 'after' })
  expect(meta.offset).toBeGreaterThanOrEqual(0)
}
