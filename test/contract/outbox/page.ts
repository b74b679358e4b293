// The page of the outbox end-to-end test (test/contract/outbox-e2e.test.ts), bundled with esbuild from the sources.
// Configuration comes from the query string: transport (ws | fetch), url (the gateway, ws:// or http://), token,
// topic, db (the outbox's database name). The test drives it through `window.outboxPage` (page.evaluate).
import { createProducer, stringSerializer } from '../../../src/index.js'
import { websocket } from '../../../adapters/websocket/index.js'
import { fetchTransport, flushOnPageHide } from '../../../adapters/fetch/index.js'
import { indexedDbOutbox, type IndexedDbOutbox, type OutboxDepth } from '../../../adapters/outbox/index.js'

const q = new URLSearchParams(location.search)
const cfg = {
  transport: q.get('transport') ?? 'ws',
  url: q.get('url')!,
  token: q.get('token')!,
  topic: q.get('topic')!,
  db: q.get('db')!,
}

interface State {
  sent: number
  acked: number
  failed: string[]
  warnings: string[]
  drops: string[]
  depth: OutboxDepth
  leftovers: number
  storage: string
  shipped: string[]
}

let producer: ReturnType<typeof createProducer<string, string>> | undefined
let outbox: IndexedDbOutbox | undefined
let loop: ReturnType<typeof setInterval> | undefined
const state: State = {
  sent: 0,
  acked: 0,
  failed: [],
  warnings: [],
  drops: [],
  depth: { batches: 0, records: 0, bytes: 0 },
  leftovers: 0,
  storage: '',
  shipped: [],
}

function send(value: string, key: string): void {
  state.sent++
  producer!.send({ topic: cfg.topic, key, value }).then(
    () => void state.acked++,
    (err: Error & { code?: string }) => void state.failed.push(`${value}: ${err.code ?? err.name}: ${err.message}`),
  )
}

const api = {
  /** The outbox's rows as stored (before a producer claims them): batch id, owner and the MessagePack records. */
  async rows(): Promise<Array<{ batchId: string; owner: string; count: number; records: number[] }>> {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(cfg.db)
      r.onsuccess = () => resolve(r.result)
      r.onerror = () => reject(r.error)
    })
    try {
      if (!db.objectStoreNames.contains('batches')) return []
      const all = await new Promise<Array<{ batchId: string; owner: string; count: number; records: Uint8Array }>>(
        (resolve, reject) => {
          const r = db.transaction('batches').objectStore('batches').getAll()
          r.onsuccess = () => resolve(r.result)
          r.onerror = () => reject(r.error)
        },
      )
      return all.map((b) => ({ batchId: b.batchId, owner: b.owner, count: b.count, records: Array.from(b.records) }))
    } finally {
      db.close()
    }
  },
  /** Waits (bounded) until no page holds a lock of this outbox: the pages that left rows are gone for the browser too. */
  async locksReleased(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const { held = [] } = await navigator.locks.query()
      if (!held.some((l) => l.name?.startsWith(`isokafka-outbox:${cfg.db}:`))) return true
      await new Promise((r) => setTimeout(r, 50))
    }
    return false
  },
  start(options: { lingerMs?: number; pageHide?: boolean; noOutbox?: boolean } = {}): void {
    outbox = indexedDbOutbox({
      name: cfg.db,
      onWarning: (w) => state.warnings.push(`${w.reason}: ${w.message}`),
      onDrop: (d) => state.drops.push(`${d.reason} ${d.batchId}`),
      onChange: (d) => (state.depth = d),
    })
    const open = outbox.open.bind(outbox)
    outbox.open = async () => {
      const left = await open()
      state.leftovers += left.reduce((n, b) => n + b.count, 0)
      return left
    }
    const transport =
      cfg.transport === 'fetch'
        ? fetchTransport({ url: cfg.url, token: cfg.token })
        : websocket({ url: cfg.url, token: cfg.token })
    // which batch ids this page ships (each time), for the test's diagnostics
    const produce = transport.produce.bind(transport)
    transport.produce = (batches, opts) => {
      for (const b of batches) state.shipped.push(`${b.batchId}:${b.topic}-${b.partition}:${b.count}`)
      return produce(batches, opts)
    }
    producer = createProducer<string, string>({
      transport,
      outbox: options.noOutbox ? undefined : outbox,
      keySerializer: stringSerializer,
      valueSerializer: stringSerializer,
      lingerMs: options.lingerMs ?? 20,
      requestTimeoutMs: 5000,
      retryBackoffMaxMs: 500,
    })
    if (options.pageHide) flushOnPageHide(producer)
  },
  async connect(): Promise<number> {
    return producer!.partitionsFor(cfg.topic)
  },
  /** Sends records `${prefix}${from}` … `${prefix}${from + count - 1}`, keys spread over 16 values. */
  send(prefix: string, from: number, count: number): void {
    for (let i = from; i < from + count; i++) send(`${prefix}${i}`, `k${i % 16}`)
  },
  /** Sends `perTick` records every `everyMs` until stopped (or the page dies). */
  startLoop(prefix: string, from: number, perTick: number, everyMs: number): void {
    let i = from
    loop = setInterval(() => {
      for (let n = 0; n < perTick; n++, i++) send(`${prefix}${i}`, `k${i % 16}`)
    }, everyMs)
  },
  stopLoop(): void {
    clearInterval(loop)
  },
  state(): State {
    return { ...state, depth: outbox?.depth() ?? state.depth, storage: outbox?.storage ?? '' }
  },
  async close(): Promise<void> {
    await producer?.close()
  },
}

;(window as unknown as { outboxPage: typeof api }).outboxPage = api
document.body.dataset.ready = '1'
