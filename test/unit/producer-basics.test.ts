import { afterEach, describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { ApiKey } from '../../src/testing/index.js'

let h: Harness
afterEach(async () => {
  await h?.dispose()
})

describe('producer against the fake cluster', () => {
  it('sends and gets offsets', async () => {
    h = new Harness({ brokers: 3, topics: { t: 3 } })
    const p = h.producer()
    const metas = await h.run(
      Promise.all([0, 1, 2, 3].map((i) => p.send({ topic: 't', value: `v${i}`, partition: i % 3 }))),
    )
    expect(metas.map((m) => [m.partition, m.offset])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [0, 1],
    ])
    expect(h.cluster.records('t', 0).map((r) => text(r.value))).toEqual(['v0', 'v3'])
    expect(h.cluster.requestCount(ApiKey.InitProducerId)).toBe(1)
  })

  it("clientId: the option, else the transport's, else isokafka", async () => {
    h = new Harness({ topics: { t: 1 } })
    expect(h.producer({ clientId: 'mine' }).clientId).toBe('mine')
    expect(h.producer().clientId).toBe('isokafka') // the fake cluster's transport names none
  })
})
