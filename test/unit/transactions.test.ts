import { afterEach, describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { ApiKey, ErrorCode } from '../../src/testing/index.js'
import { classifyTxnError } from '../../src/producer/transactions.js'
import { createProducer, type Producer } from '../../src/producer/producer.js'

let h: Harness
afterEach(async () => {
  await h?.dispose()
})

const committed = (topic: string) =>
  h.cluster
    .readCommitted(topic)
    .map((r) => text(r.value))
    .sort()
const all = (topic: string) =>
  h.cluster
    .records(topic)
    .map((r) => text(r.value))
    .sort()
const versions = (apiKey: number) => h.cluster.requests.filter((r) => r.apiKey === apiKey).map((r) => r.apiVersion)

function setup(transactionVersion: number, options: Record<string, unknown> = {}): Producer<string, string> {
  h = new Harness({ brokers: 2, topics: { t: 3 }, transactionVersion })
  return h.producer<string, string>({ transactionalId: 'tx-1', lingerMs: 5, retryBackoffMs: 50, ...options })
}

async function sendAll(p: Producer<string, string>, values: string[]): Promise<void> {
  await h.run(Promise.all(values.map((v, i) => p.send({ topic: 't', partition: i % 3, value: v }))))
}

describe('transaction protocol by transaction.version', () => {
  it('v2 (KIP-890): no AddPartitionsToTxn, Produce v12, EndTxn v5 bumps the epoch and sequences restart', async () => {
    const p = setup(2)
    await h.run(p.initTransactions())
    p.beginTransaction()
    await sendAll(p, ['a', 'b', 'c'])
    await h.run(p.commitTransaction())
    p.beginTransaction()
    await sendAll(p, ['d', 'e', 'f'])
    await h.run(p.commitTransaction())
    expect(h.cluster.requestCount(ApiKey.AddPartitionsToTxn)).toBe(0)
    expect(new Set(versions(ApiKey.Produce))).toEqual(new Set([12]))
    expect(versions(ApiKey.EndTxn)).toEqual([5, 5])
    const batches = h.cluster.batches('t', 0)
    expect(batches.map((b) => [b.producerEpoch, b.baseSequence])).toEqual([
      [0, 0],
      [1, 0],
    ])
    expect(committed('t')).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
    expect(h.cluster.transactions.get('tx-1')!.producerEpoch).toBe(2)
  })

  it("v1: AddPartitionsToTxn before a partition's first batch in each transaction, Produce ≤ v11, EndTxn ≤ v4, one epoch", async () => {
    const p = setup(1)
    await h.run(p.initTransactions())
    p.beginTransaction()
    await sendAll(p, ['a', 'b', 'c'])
    await sendAll(p, ['a2', 'b2', 'c2'])
    await h.run(p.commitTransaction())
    p.beginTransaction()
    await sendAll(p, ['d'])
    await h.run(p.commitTransaction())
    const adds = h.cluster.requests.filter((r) => r.apiKey === ApiKey.AddPartitionsToTxn)
    expect(adds.length).toBeGreaterThanOrEqual(2) // at least once per transaction, never after the partition was added
    expect(adds.length).toBeLessThanOrEqual(4)
    expect(Math.max(...versions(ApiKey.Produce))).toBe(11)
    expect(versions(ApiKey.EndTxn)).toEqual([4, 4])
    // same epoch; sequences continue across transactions
    expect(h.cluster.batches('t', 0).map((b) => [b.producerEpoch, b.baseSequence])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
    ])
    expect(committed('t')).toEqual(['a', 'a2', 'b', 'b2', 'c', 'c2', 'd'])
  })

  it('a transaction with nothing sent ends without EndTxn', async () => {
    const p = setup(2)
    await h.run(p.initTransactions())
    p.beginTransaction()
    await h.run(p.commitTransaction())
    p.beginTransaction()
    await h.run(p.abortTransaction())
    expect(h.cluster.requestCount(ApiKey.EndTxn)).toBe(0)
  })
})

describe('commit, abort, transaction(fn)', () => {
  it.each([1, 2])(
    'abort (v%i): sent records are aborted, unsent ones fail TRANSACTION_ABORTED, the next transaction commits',
    async (tv) => {
      const p = setup(tv, { lingerMs: 1000 })
      await h.run(p.initTransactions())
      p.beginTransaction()
      await h.run(
        p
          .flush()
          .then(() =>
            Promise.all(
              [0, 1, 2].map((i) => p.send({ topic: 't', partition: i, value: `sent-${i}` }).then(() => p.flush())),
            ),
          ),
      )
      const unsent = p.send({ topic: 't', partition: 0, value: 'unsent' }).then(
        () => null,
        (e: Error) => e,
      ) // lingers: never sent
      await h.run(p.abortTransaction())
      expect(await unsent).toMatchObject({ code: 'TRANSACTION_ABORTED' })
      p.beginTransaction()
      const ok = p.send({ topic: 't', partition: 1, value: 'kept' })
      await h.run(p.commitTransaction())
      await h.run(ok)
      expect(all('t')).toEqual(['kept', 'sent-0', 'sent-1', 'sent-2'])
      expect(committed('t')).toEqual(['kept'])
    },
  )

  it('transaction(fn) commits what fn sent, and aborts and rethrows when fn throws', async () => {
    const p = setup(2)
    await h.run(p.initTransactions())
    expect(
      await h.run(
        p.transaction(async (tx) => {
          await tx.send({ topic: 't', value: 'in' })
          return 42
        }),
      ),
    ).toBe(42)
    const err = await h.rejection(
      p.transaction(async (tx) => {
        await tx.send({ topic: 't', value: 'out' })
        throw new Error('boom')
      }),
    )
    expect(err.message).toBe('boom')
    expect(committed('t')).toEqual(['in'])
    expect(all('t')).toEqual(['in', 'out'])
    expect(h.cluster.transactions.get('tx-1')!.ended).toEqual([true, false])
  })

  it('sendOffsetsToTransaction: v1 sends AddOffsetsToTxn then TxnOffsetCommit ≤ v4; v2 TxnOffsetCommit v5 alone; offsets apply on commit only', async () => {
    for (const tv of [1, 2]) {
      const p = setup(tv)
      await h.run(p.initTransactions())
      p.beginTransaction()
      await h.run(
        p.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 17 }], {
          groupId: 'g',
          generationId: 3,
          memberId: 'm',
        }),
      )
      await h.run(p.abortTransaction())
      expect(h.cluster.transactions.groupOffsets.get('g')).toBeUndefined()
      await h.run(
        p.transaction(async (tx) => {
          await tx.send({ topic: 't', value: 'x' })
          await tx.sendOffsetsToTransaction(
            [
              { topic: 'in', partition: 0, offset: 18 },
              { topic: 'in', partition: 1, offset: 5 },
            ],
            'g',
          )
        }),
      )
      expect(Object.fromEntries(h.cluster.transactions.groupOffsets.get('g')!)).toEqual({ 'in:0': 18, 'in:1': 5 })
      expect(h.cluster.requestCount(ApiKey.AddOffsetsToTxn)).toBe(tv === 1 ? 2 : 0)
      expect(Math.max(...versions(ApiKey.TxnOffsetCommit))).toBe(tv === 1 ? 4 : 5)
      await h.dispose()
    }
  })
})

describe('state errors (Java IllegalStateException → INVALID_TRANSACTION_STATE)', () => {
  it('refuses sends outside a begun transaction, a second begin, a commit without begin', async () => {
    const p = setup(2)
    await expect(p.send({ topic: 't', value: 'x' })).rejects.toMatchObject({ code: 'INVALID_TRANSACTION_STATE' })
    expect(() => p.beginTransaction()).toThrow(expect.objectContaining({ code: 'INVALID_TRANSACTION_STATE' }))
    await h.run(p.initTransactions())
    await expect(p.send({ topic: 't', value: 'x' })).rejects.toMatchObject({ code: 'INVALID_TRANSACTION_STATE' })
    expect(() => p.produce({ topic: 't', value: 'x' })).toThrow(
      expect.objectContaining({ code: 'INVALID_TRANSACTION_STATE' }),
    )
    await expect(p.commitTransaction()).rejects.toMatchObject({ code: 'INVALID_TRANSACTION_STATE' })
    await expect(p.initTransactions()).rejects.toMatchObject({ code: 'INVALID_TRANSACTION_STATE' })
    p.beginTransaction()
    expect(() => p.beginTransaction()).toThrow(expect.objectContaining({ code: 'INVALID_TRANSACTION_STATE' }))
    expect(h.cluster.records('t')).toHaveLength(0)
  })

  it('a producer without transactionalId has no transactions; config rules as Java', async () => {
    h = new Harness({ topics: { t: 1 } })
    const plain = h.producer({})
    await expect(plain.initTransactions()).rejects.toMatchObject({ code: 'INVALID_TRANSACTION_STATE' })
    expect(() => h.producer({ transactionalId: 'x', enableIdempotence: false })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    )
    expect(() => h.producer({ transactionalId: 'x', acks: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    )
    expect(() => h.producer({ transactionalId: 'x', maxInFlightRequestsPerConnection: 6 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    )
    expect(() => h.producer({ transactionalId: '' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
    // a gateway carries no transactions (it is not a Kafka-protocol transport)
    expect(() => createProducer({ transport: { kind: 'gateway' } as any, transactionalId: 'x' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    )
  })
})

describe('error classification', () => {
  it('classifies coordinator codes as Java does', () => {
    expect(classifyTxnError(ErrorCode.COORDINATOR_NOT_AVAILABLE)).toBe('coordinator')
    expect(classifyTxnError(ErrorCode.NOT_COORDINATOR)).toBe('coordinator')
    expect(classifyTxnError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)).toBe('coordinator')
    expect(classifyTxnError(ErrorCode.CONCURRENT_TRANSACTIONS)).toBe('retry')
    expect(classifyTxnError(ErrorCode.PRODUCER_FENCED)).toBe('fatal')
    expect(classifyTxnError(ErrorCode.INVALID_PRODUCER_EPOCH)).toBe('fatal')
    expect(classifyTxnError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)).toBe('fatal')
    expect(classifyTxnError(ErrorCode.TRANSACTION_ABORTABLE)).toBe('abortable')
    expect(classifyTxnError(ErrorCode.TOPIC_AUTHORIZATION_FAILED)).toBe('abortable')
  })

  it.each([
    ['COORDINATOR_NOT_AVAILABLE', ErrorCode.COORDINATOR_NOT_AVAILABLE, true],
    ['NOT_COORDINATOR', ErrorCode.NOT_COORDINATOR, true],
    ['COORDINATOR_LOAD_IN_PROGRESS', ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, true],
    ['CONCURRENT_TRANSACTIONS', ErrorCode.CONCURRENT_TRANSACTIONS, false],
  ])(
    'EndTxn %s is retried (re-finding the coordinator: %s) and the commit goes through',
    async (_name, code, refind) => {
      const p = setup(2)
      await h.run(p.initTransactions())
      p.beginTransaction()
      await sendAll(p, ['a'])
      const finds = h.cluster.requestCount(ApiKey.FindCoordinator)
      h.cluster.failNext(ApiKey.EndTxn, code, { count: 2 })
      await h.run(p.commitTransaction())
      expect(h.cluster.requestCount(ApiKey.EndTxn)).toBe(3)
      expect(h.cluster.requestCount(ApiKey.FindCoordinator) - finds).toBe(refind ? 2 : 0)
      expect(committed('t')).toEqual(['a'])
    },
  )

  it('the coordinator moving to another broker: NOT_COORDINATOR, FindCoordinator again, then the new one', async () => {
    const p = setup(1)
    await h.run(p.initTransactions())
    h.cluster.coordinator = 2
    p.beginTransaction()
    await sendAll(p, ['a', 'b'])
    await h.run(p.commitTransaction())
    expect(h.cluster.requests.filter((r) => r.apiKey === ApiKey.EndTxn).map((r) => r.broker)).toEqual([2])
    expect(committed('t')).toEqual(['a', 'b'])
  })

  it.each([
    ['PRODUCER_FENCED', ErrorCode.PRODUCER_FENCED],
    ['INVALID_PRODUCER_EPOCH', ErrorCode.INVALID_PRODUCER_EPOCH],
  ])('EndTxn %s is fatal: the producer is unusable', async (_name, code) => {
    const p = setup(2)
    await h.run(p.initTransactions())
    p.beginTransaction()
    await sendAll(p, ['a'])
    h.cluster.failNext(ApiKey.EndTxn, code)
    const err = await h.rejection(p.commitTransaction())
    expect(err).toMatchObject({ code: 'PRODUCER_FATAL', cause: { errorCode: code } })
    await expect(p.send({ topic: 't', value: 'b' })).rejects.toMatchObject({ code: 'PRODUCER_FATAL' })
    expect(() => p.beginTransaction()).toThrow(expect.objectContaining({ code: 'PRODUCER_FATAL' }))
    await expect(p.abortTransaction()).rejects.toMatchObject({ code: 'PRODUCER_FATAL' })
  })

  it('Produce INVALID_PRODUCER_EPOCH is fatal for a transactional producer', async () => {
    const p = setup(2)
    await h.run(p.initTransactions())
    p.beginTransaction()
    h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_PRODUCER_EPOCH)
    expect(await h.rejection(p.send({ topic: 't', value: 'a' }))).toMatchObject({ code: 'PRODUCER_FATAL' })
    expect(await h.rejection(p.commitTransaction())).toMatchObject({ code: 'PRODUCER_FATAL' })
  })

  it.each([1, 2])(
    'a record that fails makes the transaction abortable (v%i): commit refused, abort allowed, the next one commits',
    async (tv) => {
      const p = setup(tv)
      await h.run(p.initTransactions())
      p.beginTransaction()
      h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_RECORD, { topic: 't', partition: 0 })
      const failed = p.send({ topic: 't', partition: 0, value: 'bad' })
      const good = p.send({ topic: 't', partition: 1, value: 'good-but-aborted' })
      expect(await h.rejection(failed)).toMatchObject({ code: 'INVALID_RECORD' })
      await h.outcome(good)
      const commit = await h.rejection(p.commitTransaction())
      expect(commit).toMatchObject({ code: 'TRANSACTION_ABORTABLE', cause: { code: 'INVALID_RECORD' } })
      await expect(p.send({ topic: 't', value: 'x' })).rejects.toMatchObject({ code: 'TRANSACTION_ABORTABLE' })
      expect(() => p.beginTransaction()).toThrow(expect.objectContaining({ code: 'TRANSACTION_ABORTABLE' }))
      await h.run(p.abortTransaction())
      await h.run(p.transaction(async (tx) => void (await tx.send({ topic: 't', partition: 2, value: 'next' }))))
      expect(committed('t')).toEqual(['next'])
    },
  )

  it('v1: AddPartitionsToTxn CONCURRENT_TRANSACTIONS is retried; TOPIC_AUTHORIZATION_FAILED makes the transaction abortable', async () => {
    const p = setup(1)
    await h.run(p.initTransactions())
    p.beginTransaction()
    h.cluster.failNext(ApiKey.AddPartitionsToTxn, ErrorCode.CONCURRENT_TRANSACTIONS, { count: 2 })
    await sendAll(p, ['a'])
    await h.run(p.commitTransaction())
    expect(committed('t')).toEqual(['a'])

    p.beginTransaction()
    h.cluster.failNext(ApiKey.AddPartitionsToTxn, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
    const refused = await h.rejection(p.send({ topic: 't', partition: 1, value: 'b' }))
    expect(refused).toMatchObject({ code: 'TRANSACTION_ABORTABLE', cause: { code: 'TOPIC_AUTHORIZATION_FAILED' } })
    expect(await h.rejection(p.commitTransaction())).toMatchObject({ code: 'TRANSACTION_ABORTABLE' })
    await h.run(p.abortTransaction())
    await h.run(p.transaction(async (tx) => void (await tx.send({ topic: 't', partition: 1, value: 'c' }))))
    expect(committed('t')).toEqual(['a', 'c'])
  })

  it('InitProducerId: coordinator errors and CONCURRENT_TRANSACTIONS are retried, TRANSACTIONAL_ID_AUTHORIZATION_FAILED is fatal', async () => {
    let p = setup(2)
    h.cluster.failNext(ApiKey.InitProducerId, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
    h.cluster.failNext(ApiKey.InitProducerId, ErrorCode.CONCURRENT_TRANSACTIONS, { skip: 1 })
    await h.run(p.initTransactions())
    expect(h.cluster.requestCount(ApiKey.InitProducerId)).toBe(3)
    p = h.producer<string, string>({ transactionalId: 'tx-2' })
    h.cluster.failNext(ApiKey.InitProducerId, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    expect(await h.rejection(p.initTransactions())).toMatchObject({
      code: 'PRODUCER_FATAL',
      cause: { code: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED' },
    })
  })

  it.each([1, 2])(
    'a zombie with the same transactional id is fenced (v%i); its open transaction is aborted',
    async (tv) => {
      const zombie = setup(tv)
      await h.run(zombie.initTransactions())
      zombie.beginTransaction()
      await sendAll(zombie, ['zombie'])
      const successor = h.producer<string, string>({ transactionalId: 'tx-1' })
      await h.run(successor.initTransactions())
      await h.run(successor.transaction(async (tx) => void (await tx.send({ topic: 't', value: 'successor' }))))
      const err = await h.rejection(zombie.commitTransaction())
      expect(err.code).toBe('PRODUCER_FATAL')
      expect(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']).toContain(err.cause.code)
      await expect(zombie.send({ topic: 't', value: 'late' })).rejects.toMatchObject({ code: 'PRODUCER_FATAL' })
      expect(committed('t')).toEqual(['successor'])
    },
  )
})

describe("v2: a partition's first batch of a transaction goes alone", () => {
  it("the next Produce for that partition waits for the first one's answer (the broker adds the partition meanwhile)", async () => {
    const p = setup(2, { lingerMs: 0, batchSize: 100 })
    await h.run(p.initTransactions())
    for (let txn = 0; txn < 2; txn++) {
      p.beginTransaction()
      const before = h.cluster.requests.length
      h.cluster.delayNext(ApiKey.Produce, 50)
      const sends = Array.from({ length: 20 }, (_, i) =>
        p.send({ topic: 't', partition: 0, value: `v${txn}-${i}-${'x'.repeat(60)}` }),
      )
      await h.run(Promise.all(sends))
      await h.run(p.commitTransaction())
      const produces = h.cluster.requests.slice(before).filter((r) => r.apiKey === ApiKey.Produce)
      expect(produces.length).toBeGreaterThan(2)
      expect(produces[1]!.at - produces[0]!.at).toBeGreaterThanOrEqual(50) // sent after the delayed first answer
      expect(Math.max(...produces.slice(2).map((r) => r.pipelined))).toBeGreaterThan(0) // then pipelined again
    }
    expect(committed('t')).toHaveLength(40)
  })
})

describe('calls made again while under way', () => {
  it('join the call in progress: one InitProducerId, one EndTxn', async () => {
    const p = setup(2)
    await h.run(Promise.all([p.initTransactions(), p.initTransactions()]))
    expect(h.cluster.requestCount(ApiKey.InitProducerId)).toBe(1)
    p.beginTransaction()
    void p.send({ topic: 't', value: 'a' })
    await h.run(Promise.all([p.commitTransaction(), p.commitTransaction()]))
    expect(h.cluster.requestCount(ApiKey.EndTxn)).toBe(1)
    p.beginTransaction()
    await h.run(p.send({ topic: 't', value: 'b' }))
    await h.run(Promise.all([p.abortTransaction(), p.abortTransaction()]))
    expect(h.cluster.requestCount(ApiKey.EndTxn)).toBe(2)
    expect(h.cluster.transactions.get('tx-1')!.ended).toEqual([true, false])
  })
})

describe('v1: a sequence gap left by a failed batch', () => {
  it('abort bumps the epoch (InitProducerId with the current id/epoch), so the next transaction starts at sequence 0', async () => {
    const p = setup(1)
    await h.run(p.initTransactions())
    await h.run(p.transaction(async (tx) => void (await tx.send({ topic: 't', partition: 0, value: 'a' }))))
    p.beginTransaction()
    h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_RECORD, { topic: 't', partition: 0 })
    expect(await h.rejection(p.send({ topic: 't', partition: 0, value: 'lost' }))).toMatchObject({
      code: 'INVALID_RECORD',
    })
    await h.run(p.abortTransaction())
    expect(h.cluster.requestCount(ApiKey.InitProducerId)).toBe(2)
    await h.run(p.transaction(async (tx) => void (await tx.send({ topic: 't', partition: 0, value: 'b' }))))
    expect(h.cluster.batches('t', 0).map((b) => [b.producerEpoch, b.baseSequence])).toEqual([
      [0, 0],
      [1, 0],
    ])
    expect(committed('t')).toEqual(['a', 'b'])
  })
})

describe('v1: abort while AddPartitionsToTxn is under way', () => {
  it('waits for the add, then ends the transaction the coordinator now has (no transaction left open)', async () => {
    const p = setup(1)
    await h.run(p.initTransactions())
    p.beginTransaction()
    h.cluster.delayNext(ApiKey.AddPartitionsToTxn, 100)
    const sent = p.send({ topic: 't', partition: 0, value: 'a' }).then(
      () => null,
      (e: Error) => e,
    )
    await h.advance(10) // the add is at the coordinator, its answer 90 ms away
    expect(h.cluster.requestCount(ApiKey.AddPartitionsToTxn)).toBe(1)
    await h.run(p.abortTransaction())
    expect(await sent).toMatchObject({ code: 'TRANSACTION_ABORTED' })
    expect(h.cluster.requestCount(ApiKey.EndTxn)).toBe(1)
    expect(h.cluster.transactions.get('tx-1')!.state).toBe('empty')
    await h.run(p.transaction(async (tx) => void (await tx.send({ topic: 't', partition: 0, value: 'b' }))))
    expect(committed('t')).toEqual(['b'])
  })
})
