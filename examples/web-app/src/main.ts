// The web-app example: every click on the button becomes a Kafka record, produced in the page by the isokafka core and
// sent through an isokafka gateway over the WebSocket transport. Batches wait in a durable outbox (IndexedDB) until the
// gateway acknowledged them: clicks made offline, or left unacknowledged by a closed or crashed tab, are sent when the
// page (or another tab of it) is back. The page shows the outbox's depth live.
//
// Configuration comes from the query string (?gateway=wss://…/v1/ws&token=…&topic=…) or, without it, from the
// page's own server (`GET /config`, see serve.mjs), which mints a short-lived gateway token for one topic. With the
// config endpoint the token is a function: the transport calls it again on every reconnect and when the token expires.
import { createProducer, jsonSerializer, stringSerializer, type RecordMetadata } from 'isokafka'
import { websocket } from 'isokafka/websocket'
import { flushOnPageHide } from 'isokafka/fetch'
import { indexedDbOutbox, type OutboxDepth } from 'isokafka/outbox'

interface Config {
  gatewayUrl: string
  token: string
  topic: string
}

interface ClickEvent {
  type: 'click'
  n: number
  session: string
  at: string
  page: string
}

async function fetchConfig(): Promise<Config> {
  const res = await fetch('/config', { cache: 'no-store' })
  if (!res.ok) throw new Error(`GET /config: HTTP ${res.status}`)
  return (await res.json()) as Config
}

async function loadConfig(): Promise<{ config: Config; token: string | (() => Promise<string>) }> {
  const q = new URLSearchParams(location.search)
  const gatewayUrl = q.get('gateway')
  const token = q.get('token')
  const topic = q.get('topic')
  if (gatewayUrl && token && topic) return { config: { gatewayUrl, token, topic }, token }
  const config = await fetchConfig()
  let initial: string | null = config.token
  // the first connect uses the token we have; reconnects and expiry fetch a fresh one
  const nextToken = async (): Promise<string> => {
    if (initial !== null) {
      const t = initial
      initial = null
      return t
    }
    return (await fetchConfig()).token
  }
  return { config, token: nextToken }
}

const button = document.querySelector<HTMLButtonElement>('#send')!
const status = document.querySelector<HTMLDivElement>('#status')!
const log = document.querySelector<HTMLUListElement>('#log')!
const outboxView = document.querySelector<HTMLDivElement>('#outbox')!

/** What the page has had acknowledged, for anyone (a test) who wants to compare it with Kafka. */
const acked: Array<{ n: number; partition: number; offset: number }> = []
;(window as unknown as { clicks: typeof acked }).clicks = acked

function show(text: string, error = false): void {
  status.textContent = text
  status.className = error ? 'error' : ''
}

const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`)

/** The outbox's depth: what this page has handed to the gateway (or will) and not had acknowledged yet. */
function showDepth(d: OutboxDepth, storage: string): void {
  outboxView.textContent =
    d.batches === 0
      ? `outbox: empty (${storage})`
      : `outbox: ${d.records} click${d.records === 1 ? '' : 's'} in ${d.batches} batch${d.batches === 1 ? '' : 'es'}, ${kib(d.bytes)}, waiting for the gateway's ack (${storage})`
  document.body.dataset.outboxRecords = String(d.records)
}

async function main(): Promise<void> {
  const { config, token } = await loadConfig()
  // (crypto.randomUUID() exists only in secure contexts; getRandomValues everywhere)
  const session = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  )
  // One outbox per origin and database name; every tab of this page shares it (each stored batch is sent by one tab).
  const outbox = indexedDbOutbox({
    name: 'isokafka-web-app',
    maxBytes: 4 * 1024 * 1024, // when full, the oldest batches are dropped (reported below)
    onChange: (d) => showDepth(d, outbox.storage),
    onDrop: (d) =>
      console.warn(
        `outbox: ${d.reason}: ${d.count} click(s) of ${d.topic}-${d.partition} (batch ${d.batchId})`,
        d.error ?? '',
      ),
    onWarning: (w) => show(w.message, true),
  })
  showDepth(outbox.depth(), outbox.storage)
  const producer = createProducer<string, ClickEvent>({
    transport: websocket({ url: config.gatewayUrl, token }),
    outbox,
    keySerializer: stringSerializer,
    valueSerializer: jsonSerializer,
    lingerMs: 10, // clicks within 10 ms travel together
  })
  // records still buffered when the tab is hidden or closed are flushed right away
  flushOnPageHide(producer)

  await producer.partitionsFor(config.topic) // connects, authenticates, and checks the topic is there
  show(`connected: clicks go to topic "${config.topic}" (session ${session.slice(0, 8)})`)
  button.disabled = false

  let n = 0
  button.addEventListener('click', () => {
    n += 1
    const event: ClickEvent = { type: 'click', n, session, at: new Date().toISOString(), page: location.pathname }
    const started = performance.now()
    const item = document.createElement('li')
    item.textContent = `click ${n}: sending…`
    log.prepend(item)
    producer
      .send({
        topic: config.topic,
        key: session,
        value: event,
        headers: { source: 'web-app', 'content-type': 'application/json' },
      })
      .then((meta: RecordMetadata) => {
        acked.push({ n: event.n, partition: meta.partition, offset: meta.offset })
        item.textContent = `click ${event.n}: partition ${meta.partition}, offset ${meta.offset} (${Math.round(performance.now() - started)} ms)`
        document.body.dataset.acked = String(acked.length)
      })
      .catch((err: Error & { code?: string }) => {
        item.textContent = `click ${event.n}: failed: ${err.code ?? err.name}: ${err.message}`
        show(`send failed: ${err.message}`, true)
      })
  })
}

main().catch((err: Error) => show(`could not start: ${err.message}`, true))
