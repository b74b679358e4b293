/**
 * `indexedDbOutbox({ name, maxBytes })`: a durable outbox for a gateway producer in a page
 * (`createProducer({ transport: websocket(...), outbox: indexedDbOutbox(...) })`). Web-standard APIs only: IndexedDB
 * and Web Locks. Guarantees and limits: docs/outbox.md.
 *
 * - One object store, `batches` (key: the batch id; indexes `owner` and `at`), and `meta` (the stored bytes under
 *   `bytes`; the owner leases of the no-Web-Locks fallback under `lease:<owner>`).
 * - Every outbox instance is an **owner** with a random id. With Web Locks it holds the lock
 *   `isokafka-outbox:<name>:<owner>` from open() to close(); the browser releases it when the page closes or its renderer
 *   dies. A stored batch names its owner. open() and reclaim() take over the batches of owners whose lock nobody
 *   holds (gone for good: an owner id is never reused), re-owning them in one readwrite transaction. IndexedDB runs
 *   readwrite transactions on one store one at a time, so two tabs racing each get a disjoint set.
 * - Without Web Locks (or when the lock manager refuses us) an owner renews a lease in `meta` every LEASE_MS / 4 and
 *   is gone when its lease is older than LEASE_MS.
 * - `maxBytes` bounds the records bytes stored by all owners together: a put that does not fit drops the oldest
 *   batches, whole, whoever owns them (`onDrop`, reason `full`); a batch larger than `maxBytes` is not stored
 *   (reason `too-large`). Either way the page that holds it still sends it; it is only no longer durable.
 * - IndexedDB missing, refused or failing (quota, private mode): the outbox keeps only its in-memory count for the
 *   rest of the page's life (`onWarning`); nothing survives the page then, as without an outbox.
 */
import type { Outbox, OutboxBatch } from '../../src/transport.js'
import { outboxLane } from '../../src/producer/outbox-lane.js'

export type { Outbox, OutboxBatch }
/** The producer's side of an outbox: a custom Outbox sets `lane: outboxLane`. */
export { outboxLane }

export interface OutboxDepth {
  /** Batches this page put or took over that the gateway has not acknowledged yet. */
  batches: number
  records: number
  /** Their records bytes. */
  bytes: number
}

export interface OutboxDrop {
  /**
   * `full`: an oldest batch removed from storage to make room; `too-large`: a batch above `maxBytes`, never stored;
   * `failed`: a batch no live send waited for failed for good (the producer gave up on it, `error` says why).
   */
  reason: 'full' | 'too-large' | 'failed'
  batchId: string
  topic: string
  partition: number
  count: number
  bytes: number
  error?: Error
}

export interface OutboxWarning {
  /** `unavailable`: no IndexedDB, or it would not open; `quota`: storage full; `error`: another storage failure. */
  reason: 'unavailable' | 'quota' | 'error'
  error?: unknown
  message: string
}

export interface IndexedDbOutboxOptions {
  /** IndexedDB database name. Default `isokafka-outbox`. Producers sharing a name share their leftovers. */
  name?: string
  /** Storage budget: records bytes of all stored batches of this database together. Default 50 MiB. */
  maxBytes?: number
  /** Batches dropped from storage (full, too large) or failed for good. */
  onDrop?(drop: OutboxDrop): void
  /** Storage failed; the outbox now keeps nothing past the page's life. Reported once. */
  onWarning?(warning: OutboxWarning): void
  /** This page's depth changed. */
  onChange?(depth: OutboxDepth): void
}

export interface IndexedDbOutbox extends Outbox {
  /** What this page put or took over and has not had acknowledged. */
  depth(): OutboxDepth
  /** `indexeddb`, or `memory` after a storage failure. */
  readonly storage: 'indexeddb' | 'memory'
  /** This instance's owner id. */
  readonly owner: string
}

interface Stored extends OutboxBatch {
  owner: string
  at: number
  bytes: number
}

const STORE = 'batches'
const META = 'meta'
const TOTAL = 'bytes'
const LEASE = 'lease:'
/** Without Web Locks: an owner whose lease is older than this is gone (background tabs run timers once a minute). */
export const LEASE_MS = 120_000
const OPEN_TIMEOUT_MS = 5000

export function indexedDbOutbox(options: IndexedDbOutboxOptions = {}): IndexedDbOutbox {
  const name = options.name ?? 'isokafka-outbox'
  const maxBytes = options.maxBytes ?? 50 * 1024 * 1024
  if (!(maxBytes > 0)) throw new RangeError(`indexedDbOutbox: maxBytes must be a positive number, got ${maxBytes}`)
  const owner = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')
  const lockName = (o: string) => `isokafka-outbox:${name}:${o}`
  const pending = new Map<string, [count: number, bytes: number]>()
  const depth: OutboxDepth = { batches: 0, records: 0, bytes: 0 }
  let db: IDBDatabase | undefined
  let memory = false
  let closed = false
  let release: (() => void) | undefined
  let leaseTimer: ReturnType<typeof setInterval> | undefined
  let last = 0

  const call = <T>(fn: ((arg: T) => void) | undefined, arg: T) => {
    try {
      fn?.(arg)
    } catch {
      // a throwing callback must not fail the producer
    }
  }
  const changed = () => call(options.onChange, { ...depth })
  const track = (id: string, count: number, bytes: number) => {
    if (pending.has(id)) return
    pending.set(id, [count, bytes])
    depth.batches++
    depth.records += count
    depth.bytes += bytes
  }
  const untrack = (id: string) => {
    const p = pending.get(id)
    if (!p) return
    pending.delete(id)
    depth.batches--
    depth.records -= p[0]
    depth.bytes -= p[1]
  }
  const toMemory = (reason: OutboxWarning['reason'], error: unknown, message: string) => {
    if (memory) return
    memory = true
    call(options.onWarning, {
      reason,
      error,
      message: `isokafka outbox "${name}": ${message}; batches are kept in memory only`,
    })
  }
  const drop = (b: OutboxBatch, reason: OutboxDrop['reason'], error?: Error) =>
    call(options.onDrop, {
      reason,
      batchId: b.batchId,
      topic: b.topic,
      partition: b.partition,
      count: b.count,
      bytes: b.records.byteLength,
      error,
    })
  const plain = (s: Stored): OutboxBatch => ({
    batchId: s.batchId,
    topic: s.topic,
    partition: s.partition,
    count: s.count,
    records: s.records,
  })

  /** One transaction over both stores; resolves when it committed. */
  const run = (mode: IDBTransactionMode, body: (batches: IDBObjectStore, meta: IDBObjectStore) => void) =>
    new Promise<void>((resolve, reject) => {
      const tx = db!.transaction([STORE, META], mode)
      tx.oncomplete = () => resolve()
      tx.onabort = tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
      body(tx.objectStore(STORE), tx.objectStore(META))
    })

  const openDb = () =>
    new Promise<IDBDatabase>((resolve, reject) => {
      let late = false
      const timer = setTimeout(() => {
        late = true
        reject(new Error(`IndexedDB did not open within ${OPEN_TIMEOUT_MS} ms`))
      }, OPEN_TIMEOUT_MS)
      const req = indexedDB.open(name, 1)
      req.onupgradeneeded = () => {
        const d = req.result
        d.createObjectStore(META)
        const s = d.createObjectStore(STORE, { keyPath: 'batchId' })
        s.createIndex('owner', 'owner')
        s.createIndex('at', 'at')
      }
      req.onsuccess = () => {
        clearTimeout(timer)
        if (late) req.result.close()
        else resolve(req.result)
      }
      req.onerror = () => {
        clearTimeout(timer)
        reject(req.error)
      }
    })

  const beat = () => run('readwrite', (_, meta) => meta.put(Date.now(), LEASE + owner)).catch(() => {})

  /** Batches of gone owners, now ours, oldest first. */
  const claim = async (): Promise<OutboxBatch[]> => {
    if (!db || memory || closed) return []
    try {
      const owners: string[] = []
      const leases = new Map<string, number>()
      await run('readonly', (batches, meta) => {
        const c = batches.index('owner').openKeyCursor(null, 'nextunique')
        c.onsuccess = () => {
          const cur = c.result
          if (!cur) return
          if (cur.key !== owner) owners.push(cur.key as string)
          cur.continue()
        }
        if (release) return
        const l = meta.openCursor(IDBKeyRange.bound(LEASE, LEASE + '\uffff'))
        l.onsuccess = () => {
          const cur = l.result
          if (!cur) return
          leases.set((cur.key as string).slice(LEASE.length), cur.value as number)
          cur.continue()
        }
      })
      if (owners.length === 0) return []
      let alive: (o: string) => boolean
      if (release) {
        const held = new Set(((await navigator.locks.query()).held ?? []).map((l) => l.name))
        alive = (o) => held.has(lockName(o))
      } else {
        const now = Date.now()
        alive = (o) => now - (leases.get(o) ?? 0) < LEASE_MS
      }
      const gone = owners.filter((o) => !alive(o))
      if (gone.length === 0 || closed) return []
      const got: Stored[] = []
      await run('readwrite', (batches, meta) => {
        for (const o of gone) {
          meta.delete(LEASE + o)
          // only batches still owned by `o`: a racing tab that re-owned them first left nothing here
          const c = batches.index('owner').openCursor(IDBKeyRange.only(o))
          c.onsuccess = () => {
            const cur = c.result
            if (!cur) return
            const v = cur.value as Stored
            v.owner = owner
            cur.update(v)
            got.push(v)
            cur.continue()
          }
        }
      })
      got.sort((a, b) => a.at - b.at)
      for (const v of got) track(v.batchId, v.count, v.bytes)
      if (got.length) changed()
      return got.map(plain)
    } catch {
      return [] // looked for again later; a store that is really broken shows at the next put
    }
  }

  return {
    owner,
    lane: outboxLane,
    get storage() {
      return memory ? 'memory' : 'indexeddb'
    },
    depth: () => ({ ...depth }),

    async open() {
      if (db || memory) return claim()
      try {
        db = await openDb()
      } catch (error) {
        toMemory('unavailable', error, `IndexedDB is not available (${String(error)})`)
        return []
      }
      db.onversionchange = () => {
        // another page wants to upgrade or delete the database: let it, and keep going in memory
        db?.close()
        toMemory('error', undefined, 'the database was closed by another page (version change or deletion)')
      }
      const locks = (globalThis.navigator as Navigator | undefined)?.locks
      if (locks) {
        await new Promise<void>((granted) => {
          locks
            .request(lockName(owner), () => {
              granted()
              return new Promise<void>((r) => (release = r))
            })
            .catch(() => granted()) // a lock manager that refuses (sandboxed frame): the lease below
        })
      }
      if (!release) {
        await beat()
        leaseTimer = setInterval(beat, LEASE_MS / 4)
      }
      return claim()
    },

    async put(batch) {
      if (pending.has(batch.batchId)) return // stored already (or taken over): counted once, stored once
      const bytes = batch.records.byteLength
      track(batch.batchId, batch.count, bytes)
      changed()
      if (!db || memory || closed) return
      if (bytes > maxBytes) return drop(batch, 'too-large')
      last = Math.max(Date.now(), last + 0.001)
      const record: Stored = { ...plain(batch as Stored), owner, at: last, bytes }
      const dropped: Stored[] = []
      try {
        await run('readwrite', (batches, meta) => {
          const g = meta.get(TOTAL)
          g.onsuccess = () => {
            let total = (g.result as number | undefined) ?? 0
            const store = () => {
              batches.put(record)
              meta.put(total + bytes, TOTAL)
            }
            if (total + bytes <= maxBytes) return store()
            // oldest first, whole batches, until this one fits
            const c = batches.index('at').openCursor()
            c.onsuccess = () => {
              const cur = c.result
              if (!cur) total = 0 // nothing left: whatever the count said, nothing is stored
              if (!cur || total + bytes <= maxBytes) return store()
              const v = cur.value as Stored
              dropped.push(v)
              total -= v.bytes
              cur.delete()
              cur.continue()
            }
          }
        })
      } catch (error) {
        const quota = (error as Error | null)?.name === 'QuotaExceededError'
        toMemory(
          quota ? 'quota' : 'error',
          error,
          quota ? 'storage quota exceeded' : `storing a batch failed (${String(error)})`,
        )
        return
      }
      for (const v of dropped) drop(v, 'full')
    },

    async remove(batchIds) {
      for (const id of batchIds) untrack(id)
      changed()
      if (!db || closed || batchIds.length === 0) return
      try {
        await run('readwrite', (batches, meta) => {
          let freed = 0
          let left = batchIds.length
          for (const id of batchIds) {
            const g = batches.get(id)
            g.onsuccess = () => {
              const v = g.result as Stored | undefined
              if (v) {
                freed += v.bytes
                batches.delete(id)
              }
              if (--left > 0 || freed === 0) return
              const t = meta.get(TOTAL)
              t.onsuccess = () => meta.put(Math.max(0, ((t.result as number | undefined) ?? 0) - freed), TOTAL)
            }
          }
        })
      } catch {
        // an acknowledged batch left behind is resent later and deduplicated by the gateway
      }
    },

    reclaim: claim,

    failed(batch, error) {
      untrack(batch.batchId)
      changed()
      drop(batch, 'failed', error)
    },

    async close() {
      if (closed) return
      closed = true
      clearInterval(leaseTimer)
      if (db && !memory) {
        // after every transaction of ours: leftovers are claimable once the lock or lease is gone
        await run('readwrite', (_, meta) => meta.delete(LEASE + owner)).catch(() => {})
      }
      release?.()
      db?.close()
    },
  }
}
