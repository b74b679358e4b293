// How a batch reports its records' outcomes: produce() callbacks at once, in record order; send() promises through
// the batch's one outcome promise (SETTLES_PROMISE), each taking its own record's offset and timestamp; a send that
// waited keeps its own resolve/reject. Mixed in one batch, each record must get exactly its own outcome.
import { describe, expect, it } from 'vitest'
import { kafkaRecordFormat } from '../../src/protocol/record-batch.js'
import {
  ProducerBatch,
  SETTLES_PROMISE,
  type DeliveryCallback,
  type RecordMetadata,
  type RecordToAppend,
} from '../../src/producer/producer-batch.js'

const value = new Uint8Array([1, 2, 3])

function record(timestamp: number, callback: DeliveryCallback, extra: Partial<RecordToAppend> = {}): RecordToAppend {
  return {
    topic: 't',
    partition: 3,
    key: null,
    value,
    headers: [],
    timestamp,
    estimate: 40,
    now: 0,
    callback,
    reject: null,
    promise: null,
    tag: undefined,
    ...extra,
  }
}

type Kind = 'send' | 'produce' | 'waited'

/** A batch of records of the given kinds (timestamps 1000 + 10 * run for run changes every 2 records). */
function build(kinds: Kind[]) {
  const batch = new ProducerBatch('t', 3, 0, kafkaRecordFormat.builder(16384))
  const outcomes: Array<Promise<RecordMetadata>> = []
  const calls: Array<[number, Error | null, RecordMetadata | null]> = []
  const callback: DeliveryCallback = (err, meta, tag) => calls.push([tag, err, meta])
  kinds.forEach((kind, i) => {
    const ts = 1000 + 10 * Math.floor(i / 2)
    if (kind === 'send') {
      const r = record(ts, SETTLES_PROMISE)
      batch.add(r)
      expect(r.promise).toBeInstanceOf(Promise)
      outcomes[i] = r.promise!
    } else if (kind === 'waited') {
      let resolve!: (m: RecordMetadata) => void
      let reject!: (e: Error) => void
      outcomes[i] = new Promise<RecordMetadata>((a, b) => {
        resolve = a
        reject = b
      })
      batch.add(record(ts, resolve as unknown as DeliveryCallback, { reject }))
    } else {
      batch.add(record(ts, callback, { tag: i }))
    }
  })
  return { batch, outcomes, calls }
}

const kindsList: Kind[][] = [
  ['send', 'send', 'send', 'send', 'send'],
  ['produce', 'send', 'produce', 'produce', 'send', 'waited', 'send'],
  ['send', 'waited', 'produce', 'send', 'send', 'produce'],
  ['waited', 'waited', 'produce'],
  ['produce', 'produce', 'send'],
]

describe('ProducerBatch outcomes', () => {
  for (const kinds of kindsList) {
    it(`complete(): each record gets its own offset and timestamp (${kinds.join(', ')})`, async () => {
      const { batch, outcomes, calls } = build(kinds)
      batch.complete(500, -1)
      // produce() callbacks ran at once, in record order, with their tags
      const produced = kinds.flatMap((k, i) => (k === 'produce' ? [i] : []))
      expect(calls.map((c) => c[0])).toEqual(produced)
      for (const [i, err, meta] of calls) {
        expect(err).toBeNull()
        expect(meta).toEqual({ topic: 't', partition: 3, offset: 500 + i, timestamp: 1000 + 10 * Math.floor(i / 2) })
      }
      for (let i = 0; i < kinds.length; i++) {
        if (kinds[i] === 'produce') continue
        expect(await outcomes[i]).toEqual({
          topic: 't',
          partition: 3,
          offset: 500 + i,
          timestamp: 1000 + 10 * Math.floor(i / 2),
        })
      }
    })

    it(`fail(): every record gets the batch's error (${kinds.join(', ')})`, async () => {
      const { batch, outcomes, calls } = build(kinds)
      const err = new Error('broker said no')
      batch.fail(err)
      expect(calls.map((c) => [c[0], c[1]])).toEqual(kinds.flatMap((k, i) => (k === 'produce' ? [[i, err]] : [])))
      for (let i = 0; i < kinds.length; i++) if (kinds[i] !== 'produce') await expect(outcomes[i]).rejects.toBe(err)
    })
  }

  it('LogAppendTime and per-record offsets (a gateway reports them) reach the promises', async () => {
    const { batch, outcomes } = build(['send', 'produce', 'send'])
    batch.complete(-1, 777, [10, 12, 15])
    expect(await outcomes[0]).toMatchObject({ offset: 10, timestamp: 777 })
    expect(await outcomes[2]).toMatchObject({ offset: 15, timestamp: 777 })
  })

  it('acks=0 (no offset): -1, and a second complete() or fail() changes nothing', async () => {
    const { batch, outcomes } = build(['send', 'send'])
    batch.complete(-1, -1)
    batch.fail(new Error('late'))
    batch.complete(99, -1)
    expect((await outcomes[0]).offset).toBe(-1)
    expect((await outcomes[1]).offset).toBe(-1)
  })

  it('whenDone() waiters run after the outcomes are decided', async () => {
    const { batch, outcomes } = build(['send', 'send'])
    const seen: string[] = []
    void outcomes[0]!.then(() => seen.push('send 0'))
    const done = batch.whenDone().then(() => seen.push('done'))
    batch.complete(0, -1)
    await done
    await outcomes[1]
    expect(seen).toEqual(['send 0', 'done'])
  })
})
