// describeTopic() while no broker is reachable: each failed metadata attempt waits its backoff (retryBackoffMs,
// doubling to retryBackoffMaxMs) before the next, instead of reconnecting in a loop until the deadline.
import { describe, expect, it } from 'vitest'
import { createProducer } from '../../src/index.js'
import { kafkaBackend } from '../../src/producer/kafka-sender.js'
import { FakeClock } from '../helpers/fake-clock.js'

describe('describeTopic with no broker reachable', () => {
  it('backs off between attempts and gives up at its timeout with MAX_BLOCK_TIMEOUT', async () => {
    const clock = new FakeClock()
    let connects = 0
    const refusing = {
      kind: 'socket' as const,
      backend: kafkaBackend,
      bootstrap: ['127.0.0.1:1'],
      connect: () => {
        connects++
        return Promise.reject(new Error('ECONNREFUSED'))
      },
    }
    const producer = createProducer({ transport: refusing, clock, retryBackoffMs: 100, retryBackoffMaxMs: 1000 })
    let outcome: unknown = null
    const described = producer.describeTopic('t', { timeoutMs: 5000 }).then(
      () => (outcome = 'resolved'),
      (err) => (outcome = err),
    )
    for (let i = 0; i < 60 && outcome === null; i++) await clock.advance(100)
    await described
    expect(outcome).toMatchObject({ code: 'MAX_BLOCK_TIMEOUT' })
    // 100, 200, 400, 800, 1000, 1000, ... ms apart (±20 %): about a dozen attempts in 5 s, not thousands
    expect(connects).toBeGreaterThan(2)
    expect(connects).toBeLessThan(40)
    await producer.close({ timeoutMs: 0 }).catch(() => {})
  })
})
