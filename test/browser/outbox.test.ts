// indexedDbOutbox (adapters/outbox) on its own, in real Chromium (vitest.browser.config.ts): put/remove/depth,
// persistence across instances, drop-oldest within maxBytes, the memory fallback when IndexedDB fails, and the
// multi-owner claim (an owner is gone when nobody holds its Web Lock; racing claims get disjoint batches), plus the
// lease fallback without Web Locks. Several instances in one page stand for several tabs: each is an owner with its
// own lock, and close() releases it as a closed tab would.
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  indexedDbOutbox,
  LEASE_MS,
  type IndexedDbOutbox,
  type IndexedDbOutboxOptions,
  type OutboxDepth,
  type OutboxDrop,
  type OutboxWarning,
} from '../../adapters/outbox/index.js'
import type { OutboxBatch } from '../../src/transport.js'

const opened: IndexedDbOutbox[] = []
const names: string[] = []

function dbName(): string {
  const n = `outbox-test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
  names.push(n)
  return n
}

function outbox(name: string, options: IndexedDbOutboxOptions = {}): IndexedDbOutbox {
  const o = indexedDbOutbox({ name, ...options })
  opened.push(o)
  return o
}

let seq = 0
function batch(bytes = 100, count = 3, topic = 'clicks', partition = 0): OutboxBatch {
  const id = `b${++seq}`
  const records = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) records[i] = (i * 31 + seq) & 0xff
  return { batchId: id, topic, partition, count, records }
}

const ids = (bs: OutboxBatch[]) => bs.map((b) => b.batchId)

/** The raw rows of the database (what survives the page). */
async function rows(name: string): Promise<Array<OutboxBatch & { owner: string }>> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open(name)
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
  try {
    return await new Promise((resolve, reject) => {
      const r = db.transaction('batches').objectStore('batches').index('at').getAll()
      r.onsuccess = () => resolve(r.result)
      r.onerror = () => reject(r.error)
    })
  } finally {
    db.close()
  }
}

/** Writes a batch as an owner that never held a lock (a page that crashed long ago). */
async function plantOrphan(name: string, b: OutboxBatch, owner = 'ghost'): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open(name)
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
  await new Promise<void>((resolve, reject) => {
    const tx = db.transaction(['batches', 'meta'], 'readwrite')
    tx.objectStore('batches').put({ ...b, owner, at: 1, bytes: b.records.byteLength })
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error)
  })
  db.close()
}

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(opened.splice(0).map((o) => o.close()))
  for (const n of names.splice(0)) {
    await new Promise<void>((resolve) => {
      const r = indexedDB.deleteDatabase(n)
      r.onsuccess = r.onerror = r.onblocked = () => resolve()
    })
  }
})

describe('indexedDbOutbox', () => {
  it('keeps what was put until removed; depth counts batches, records and bytes; onChange follows', async () => {
    const name = dbName()
    const changes: OutboxDepth[] = []
    const a = outbox(name, { onChange: (d) => changes.push(d) })
    expect(await a.open()).toEqual([])
    expect(a.storage).toBe('indexeddb')
    const [b1, b2, b3] = [batch(100, 3), batch(50, 1), batch(10, 2)]
    await Promise.all([a.put(b1), a.put(b2), a.put(b3)])
    await a.put(b2) // a second put of the same batch changes nothing
    expect(a.depth()).toEqual({ batches: 3, records: 6, bytes: 160 })
    expect(ids(await rows(name))).toEqual(ids([b1, b2, b3]))
    await a.remove([b2.batchId])
    expect(a.depth()).toEqual({ batches: 2, records: 5, bytes: 110 })
    expect(ids(await rows(name))).toEqual(ids([b1, b3]))
    await a.remove([b1.batchId, b3.batchId, 'never-put'])
    expect(a.depth()).toEqual({ batches: 0, records: 0, bytes: 0 })
    expect(await rows(name)).toEqual([])
    expect(changes.at(-1)).toEqual({ batches: 0, records: 0, bytes: 0 })
    expect(changes.map((c) => c.batches)).toEqual([1, 2, 3, 2, 0])
  })

  it('what a closed instance left is handed to the next one, bytes intact, oldest first, exactly once', async () => {
    const name = dbName()
    const a = outbox(name)
    await a.open()
    const put = [batch(200, 5, 't', 0), batch(30, 1, 't', 1), batch(70, 2, 'u', 0), batch(1, 1, 't', 0)]
    for (const b of put) await a.put(b)
    await a.remove([put[1]!.batchId])
    await a.close()
    const b = outbox(name)
    const left = await b.open()
    expect(left).toEqual([put[0], put[2], put[3]]) // records compared byte for byte
    expect(b.depth()).toEqual({ batches: 3, records: 8, bytes: 271 })
    expect((await rows(name)).every((r) => r.owner === b.owner)).toBe(true)
    // b is alive: nobody else gets them, and b does not get them twice
    const c = outbox(name)
    expect(await c.open()).toEqual([])
    expect(await b.reclaim()).toEqual([])
    await b.remove(ids(left))
    await b.close()
    const d = outbox(name)
    expect(await d.open()).toEqual([])
  })

  it('an owner whose lock nobody holds is gone: its batches are claimed; a live owner keeps its own', async () => {
    const name = dbName()
    const live = outbox(name)
    await live.open()
    const mine = batch()
    await live.put(mine)
    const ghost = batch(40, 4)
    await plantOrphan(name, ghost) // owner "ghost" never held a lock: a page that crashed
    const other = outbox(name)
    expect(await other.open()).toEqual([ghost])
    expect(await live.reclaim()).toEqual([]) // ghost's went to `other`, `mine` is live's own
    const byOwner = Object.fromEntries((await rows(name)).map((r) => [r.batchId, r.owner]))
    expect(byOwner).toEqual({ [mine.batchId]: live.owner, [ghost.batchId]: other.owner })
    // the live owner goes away (its lock is released, as when a tab closes or crashes)
    await live.close()
    expect(await other.reclaim()).toEqual([mine])
    expect(other.depth().batches).toBe(2)
  })

  it('two instances racing reclaim() and open() on the same leftovers get disjoint sets covering all of them', async () => {
    const name = dbName()
    for (let round = 0; round < 3; round++) {
      const gone = outbox(name)
      await gone.open()
      const put: OutboxBatch[] = []
      for (let i = 0; i < 40; i++) put.push(batch(20 + i, 1 + (i % 3), 't', i % 4))
      await Promise.all(put.map((b) => gone.put(b)))
      const x = outbox(name)
      const y = outbox(name)
      expect(await Promise.all([x.open(), y.open()])).toEqual([[], []])
      await gone.close()
      const [gx, gy] = await Promise.all([x.reclaim(), y.reclaim()])
      expect(new Set([...ids(gx), ...ids(gy)]).size).toBe(gx.length + gy.length)
      expect([...ids(gx), ...ids(gy)].sort()).toEqual(ids(put).sort())
      // both gone now; two fresh instances racing open() split the same leftovers again
      await Promise.all([x.close(), y.close()])
      const p = outbox(name)
      const q = outbox(name)
      const [gp, gq] = await Promise.all([p.open(), q.open()])
      expect([...ids(gp), ...ids(gq)].sort()).toEqual(ids(put).sort())
      expect(new Set([...ids(gp), ...ids(gq)]).size).toBe(put.length)
      await p.remove(ids(gp))
      await q.remove(ids(gq))
      await Promise.all([p.close(), q.close()])
      expect(await rows(name)).toEqual([])
    }
  })

  it('maxBytes: the oldest batches are dropped whole, reported by onDrop; a batch above maxBytes is not stored', async () => {
    const name = dbName()
    const drops: OutboxDrop[] = []
    const a = outbox(name, { maxBytes: 1000, onDrop: (d) => drops.push(d) })
    await a.open()
    const [b1, b2, b3] = [batch(300, 3, 't', 1), batch(300, 2, 't', 2), batch(300, 1, 'u', 0)]
    for (const b of [b1, b2, b3]) await a.put(b)
    expect(drops).toEqual([])
    const b4 = batch(250, 4)
    await a.put(b4) // 1150 > 1000: b1 goes
    expect(drops).toEqual([
      { reason: 'full', batchId: b1.batchId, topic: 't', partition: 1, count: 3, bytes: 300, error: undefined },
    ])
    const b5 = batch(700, 7) // needs b2 and b3 gone: 250 + 700 ≤ 1000
    await a.put(b5)
    expect(drops.slice(1).map((d) => [d.reason, d.batchId])).toEqual([
      ['full', b2.batchId],
      ['full', b3.batchId],
    ])
    const huge = batch(1001, 9)
    await a.put(huge)
    expect(drops.at(-1)).toMatchObject({ reason: 'too-large', batchId: huge.batchId, count: 9, bytes: 1001 })
    expect(ids(await rows(name))).toEqual(ids([b4, b5]))
    // depth is what this page still has to get acknowledged: dropped from storage is not acknowledged
    expect(a.depth().batches).toBe(6)
    // the byte count survives a reopen: a later instance keeps the same budget
    await a.close()
    const drops2: OutboxDrop[] = []
    const b = outbox(name, { maxBytes: 1000, onDrop: (d) => drops2.push(d) })
    expect(ids(await b.open())).toEqual(ids([b4, b5]))
    await b.put(batch(60))
    expect(drops2.map((d) => d.batchId)).toEqual([b4.batchId])
    await b.remove([b5.batchId])
    await b.put(batch(900))
    expect(drops2).toHaveLength(1) // 60 + 900 fit
  })

  it('failed() reports a batch that failed for good through onDrop', async () => {
    const drops: OutboxDrop[] = []
    const a = outbox(dbName(), { onDrop: (d) => drops.push(d) })
    await a.open()
    const b = batch(10, 1)
    await a.put(b)
    await a.remove([b.batchId])
    const error = new Error('TOPIC_AUTHORIZATION_FAILED')
    a.failed!(b, error)
    expect(drops).toEqual([
      { reason: 'failed', batchId: b.batchId, topic: 'clicks', partition: 0, count: 1, bytes: 10, error },
    ])
  })

  it('IndexedDB missing or refusing: memory, with one warning; put/remove/depth still work', async () => {
    const cases: Array<[string, () => void]> = [
      [
        'open throws',
        () =>
          vi.spyOn(indexedDB, 'open').mockImplementation(() => {
            throw new DOMException('denied', 'SecurityError')
          }),
      ],
      [
        'open fires error',
        () =>
          vi.spyOn(indexedDB, 'open').mockImplementation(() => {
            const req = {} as IDBOpenDBRequest
            setTimeout(() => {
              Object.defineProperty(req, 'error', { value: new DOMException('private mode', 'InvalidStateError') })
              req.onerror?.(new Event('error'))
            }, 5)
            return req
          }),
      ],
      ['no indexedDB', () => vi.stubGlobal('indexedDB', undefined)],
    ]
    for (const [label, stub] of cases) {
      stub()
      const warnings: OutboxWarning[] = []
      const a = outbox(dbName(), { onWarning: (w) => warnings.push(w) })
      expect(await a.open(), label).toEqual([])
      expect(a.storage, label).toBe('memory')
      expect(
        warnings.map((w) => w.reason),
        label,
      ).toEqual(['unavailable'])
      expect(warnings[0]!.message).toContain('memory')
      const b = batch(10, 2)
      await a.put(b)
      await a.put(batch(5, 1))
      expect(a.depth(), label).toEqual({ batches: 2, records: 3, bytes: 15 })
      await a.remove([b.batchId])
      expect(a.depth(), label).toEqual({ batches: 1, records: 1, bytes: 5 })
      expect(await a.reclaim(), label).toEqual([])
      await a.close()
      vi.restoreAllMocks()
      vi.unstubAllGlobals()
    }
  })

  it('a storage failure while putting (quota) switches to memory with one warning; the batch is still counted', async () => {
    const name = dbName()
    const warnings: OutboxWarning[] = []
    const a = outbox(name, { onWarning: (w) => warnings.push(w) })
    await a.open()
    const kept = batch(10)
    await a.put(kept)
    // as Chromium reports a full disk or origin quota: the transaction aborts with a QuotaExceededError
    const aborted = new WeakSet<IDBTransaction>()
    const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore) {
      const tx = this.transaction
      if (!aborted.has(tx)) {
        aborted.add(tx)
        Object.defineProperty(tx, 'error', { value: new DOMException('quota', 'QuotaExceededError') })
        tx.abort()
      }
      return {} as IDBRequest<IDBValidKey>
    })
    const b = batch(20)
    await a.put(b) // never rejects
    await a.put(batch(30))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.reason).toBe('quota')
    expect(a.storage).toBe('memory')
    expect(a.depth()).toEqual({ batches: 3, records: 9, bytes: 60 })
    put.mockRestore()
    // what was stored before stays removable
    await a.remove([kept.batchId])
    expect(await rows(name)).toEqual([])
  })

  it('without Web Locks: owners renew a lease; a closed owner (lease deleted) or a stale one is gone', async () => {
    Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true })
    try {
      const name = dbName()
      const a = outbox(name)
      await a.open()
      const mine = batch()
      await a.put(mine)
      const b = outbox(name)
      expect(await b.open()).toEqual([]) // a's lease is fresh
      await a.close()
      expect(await b.reclaim()).toEqual([mine])
      // a stale lease (a tab that crashed LEASE_MS ago): plant one and an orphan of it
      const db = await new Promise<IDBDatabase>((resolve) => {
        const r = indexedDB.open(name)
        r.onsuccess = () => resolve(r.result)
      })
      await new Promise<void>((resolve) => {
        const tx = db.transaction('meta', 'readwrite')
        tx.objectStore('meta').put(Date.now() - LEASE_MS - 1000, 'lease:stale')
        tx.objectStore('meta').put(Date.now(), 'lease:fresh')
        tx.oncomplete = () => resolve()
      })
      db.close()
      const s = batch(5)
      const f = batch(6)
      await plantOrphan(name, s, 'stale')
      await plantOrphan(name, f, 'fresh')
      expect(await b.reclaim()).toEqual([s])
    } finally {
      delete (navigator as { locks?: unknown }).locks
    }
    expect(navigator.locks).toBeDefined()
  })
})
