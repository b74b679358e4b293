// Test Worker (runs inside workerd, driven by workers.test.ts through Miniflare): the shared producer contract
// (test/contract/producer-contract.ts) on the Workers TCP transport and, through workerd's own fetch() and
// WebSocket, on the fetch and websocket transports to a gateway on 127.0.0.1; and the Workers transport's own
// cases. One request each.
import {
  createProducer,
  IsoKafkaError,
  type SaslOptions,
  type SocketTransport,
  type Transport,
} from '../../src/index.js'
import { workersSocket, type WorkersSocketOptions } from '../../adapters/workers-socket/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { fetchTransport } from '../../adapters/fetch/index.js'
import { ContractFailure, hex, runCase } from '../contract/producer-contract.js'

interface Env {
  KAFKA_BOOTSTRAP: string
  KAFKA_SASL_BOOTSTRAP?: string
  KAFKA_TLS_BOOTSTRAP?: string
  /** The gateway the Node test started (http://127.0.0.1:PORT), its WebSocket URL and a token for the test topics. */
  GATEWAY_URL?: string
  GATEWAY_WS_URL?: string
  GATEWAY_TOKEN?: string
}

/** The transport a contract request asks for: `tcp` (cloudflare:sockets), `ws` or `fetch` (to the gateway). */
function contractTransport(kind: string | null, env: Env): () => Transport {
  if (kind === 'ws') return () => websocket({ url: env.GATEWAY_WS_URL!, token: env.GATEWAY_TOKEN! })
  // the default global fetch (called unbound: workerd refuses a fetch called as a method of another object)
  if (kind === 'fetch')
    return () => fetchTransport({ url: env.GATEWAY_URL!, token: env.GATEWAY_TOKEN!, mode: 'gateway' })
  return () => workersSocket({ bootstrap: env.KAFKA_BOOTSTRAP })
}

function describeError(err: unknown) {
  const e = err as IsoKafkaError & { cause?: unknown }
  return {
    name: e?.name,
    code: e?.code,
    retriable: e?.retriable,
    isIsoKafkaError: err instanceof IsoKafkaError,
    message: e?.message ?? String(err),
    cause:
      e?.cause instanceof Error
        ? { name: e.cause.name, code: (e.cause as IsoKafkaError).code, message: e.cause.message }
        : undefined,
  }
}

async function settle<T>(
  promise: Promise<T>,
): Promise<{ value?: T; error?: ReturnType<typeof describeError>; ms: number }> {
  const started = performance.now()
  try {
    const value = await promise
    return { value, ms: Math.round(performance.now() - started) }
  } catch (err) {
    return { error: describeError(err), ms: Math.round(performance.now() - started) }
  }
}

/** Produce n small records through a transport and close; the records come back for read-back checks. */
async function produceSome(options: WorkersSocketOptions, topic: string, n: number, maxBlockMs = 15_000) {
  const producer = createProducer({ transport: workersSocket(options), maxBlockMs, deliveryTimeoutMs: 60_000 })
  try {
    const metas = await Promise.all(
      Array.from({ length: n }, (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` })),
    )
    return metas.map((m, i) => ({
      partition: m.partition,
      offset: m.offset,
      key: hex(`k${i}`),
      value: hex(`v${i}`),
      headers: [],
    }))
  } finally {
    await producer.close({ timeoutMs: 1000 })
  }
}

/** Kept across requests on purpose: see '/workers/module-scope'. */
let moduleScoped: ReturnType<typeof createProducer> | undefined
/** Why its connections ended, as the transport reported it to the core. */
const moduleScopedCloses: string[] = []

const routes: Record<string, (url: URL, env: Env) => Promise<unknown>> = {
  /**
   * A producer in module scope of a stateless Worker, used by one request after another. Each request finds the
   * sockets of the previous one (Workers binds them to their request): the transport reports the first write's
   * failure as a retriable ConnectionError and the core reconnects within the current request.
   * (Concurrent requests on such a producer are NOT safe; the example uses a Durable Object.)
   */
  async '/workers/module-scope'(url, env) {
    if (!moduleScoped) {
      const base = workersSocket({ bootstrap: env.KAFKA_BOOTSTRAP })
      const transport: SocketTransport = {
        ...base,
        connect: (o, h) =>
          base.connect(o, {
            onData: h.onData,
            onClose: (err) => (err && moduleScopedCloses.push(err.message), h.onClose(err)),
          }),
      }
      moduleScoped = createProducer({
        transport,
        maxBlockMs: 10_000,
        requestTimeoutMs: 5_000,
        deliveryTimeoutMs: 15_000,
      })
    }
    const i = url.searchParams.get('i')!
    const started = performance.now()
    const meta = await moduleScoped.send({
      topic: url.searchParams.get('topic')!,
      key: `ms-${i}`,
      value: `module-scope-${i}`,
    })
    return {
      ms: Math.round(performance.now() - started),
      closes: moduleScopedCloses,
      record: {
        partition: meta.partition,
        offset: meta.offset,
        key: hex(`ms-${i}`),
        value: hex(`module-scope-${i}`),
        headers: [],
      },
    }
  },

  /** fetchTransport() with its default (the global fetch): one metadata request to the gateway. */
  async '/gateway/fetch-default'(url, env) {
    const transport = fetchTransport({ url: env.GATEWAY_URL!, token: env.GATEWAY_TOKEN!, mode: 'gateway' })
    return settle(transport.metadata([url.searchParams.get('topic')!]))
  },

  /** A refused connection is a retriable ConnectionError. */
  async '/workers/connect-refused'(url) {
    const transport = workersSocket({ bootstrap: `127.0.0.1:${url.searchParams.get('port')}` })
    const handlers = { onData() {}, onClose() {} }
    return settle(
      transport.connect(
        { host: '127.0.0.1', port: Number(url.searchParams.get('port')), connectTimeoutMs: 5000 },
        handlers,
      ),
    )
  },

  /** A peer that accepts TCP but never finishes the TLS handshake: the connect timeout fires. */
  async '/workers/connect-timeout'(url) {
    const port = Number(url.searchParams.get('port'))
    const transport = workersSocket({ bootstrap: `127.0.0.1:${port}`, tls: true, connectTimeoutMs: 300 })
    return settle(
      transport.connect({ host: '127.0.0.1', port, connectTimeoutMs: 60_000 }, { onData() {}, onClose() {} }),
    )
  },

  /** Bad options are refused when the transport is created. */
  async '/workers/options'() {
    const attempt = (o: WorkersSocketOptions) => {
      try {
        workersSocket(o)
        return null
      } catch (err) {
        return describeError(err)
      }
    }
    const ok = workersSocket({ bootstrap: ' 127.0.0.1:1, 127.0.0.2:2 ', clientId: 'c' })
    return {
      empty: attempt({ bootstrap: '' }),
      emptyList: attempt({ bootstrap: [] }),
      serverNameWithoutStartTls: attempt({ bootstrap: 'a:1', tls: true, tlsServerName: 'x' }),
      parsed: { kind: ok.kind, bootstrap: ok.bootstrap, clientId: ok.clientId },
    }
  },

  /** A producer whose only broker refuses connections: send() fails with a typed error after maxBlockMs. */
  async '/workers/unreachable'(url) {
    const producer = createProducer({
      transport: workersSocket({ bootstrap: `127.0.0.1:${url.searchParams.get('port')}` }),
      maxBlockMs: 1500,
    })
    const result = await settle(producer.send({ topic: 'unreachable', value: 'v' }))
    await producer.close({ timeoutMs: 100 })
    return result
  },

  async '/workers/sasl'(url, env) {
    const sasl = {
      mechanism: url.searchParams.get('mechanism'),
      username: url.searchParams.get('user'),
      password: url.searchParams.get('password'),
    } as SaslOptions
    const options = { bootstrap: env.KAFKA_SASL_BOOTSTRAP!, sasl }
    if (url.searchParams.get('expect') === 'failure') {
      const producer = createProducer({ transport: workersSocket(options), maxBlockMs: 10_000 })
      const result = await settle(producer.send({ topic: url.searchParams.get('topic')!, value: 'v' }))
      await producer.close({ timeoutMs: 100 })
      return result
    }
    return { records: await produceSome(options, url.searchParams.get('topic')!, 50) }
  },

  async '/workers/tls'(url, env) {
    const mode = url.searchParams.get('mode')
    const options: WorkersSocketOptions = {
      bootstrap: env.KAFKA_TLS_BOOTSTRAP!,
      tls: mode === 'starttls' ? 'starttls' : true,
      tlsServerName: url.searchParams.get('servername') ?? undefined,
    }
    if (url.searchParams.get('expect') === 'failure') {
      const producer = createProducer({ transport: workersSocket(options), maxBlockMs: 3000 })
      const result = await settle(producer.send({ topic: url.searchParams.get('topic')!, value: 'v' }))
      await producer.close({ timeoutMs: 100 })
      return result
    }
    return { records: await produceSome(options, url.searchParams.get('topic')!, 50) }
  },
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    try {
      if (url.pathname.startsWith('/contract/')) {
        const name = decodeURIComponent(url.pathname.slice('/contract/'.length))
        try {
          const result = await runCase(name, {
            transport: contractTransport(url.searchParams.get('transport'), env),
            topic: url.searchParams.get('topic')!,
            partitions: Number(url.searchParams.get('partitions')),
          })
          return Response.json(result)
        } catch (err) {
          // what the case did get written before it failed, so the runner's topic check stays exact
          const records = err instanceof ContractFailure ? err.records : undefined
          return Response.json(
            { ok: false, error: describeError(err), stack: (err as Error)?.stack, records },
            { status: 500 },
          )
        }
      }
      const route = routes[url.pathname]
      if (!route) return Response.json({ ok: false, error: `no route ${url.pathname}` }, { status: 404 })
      return Response.json(await route(url, env))
    } catch (err) {
      return Response.json({ ok: false, error: describeError(err), stack: (err as Error)?.stack }, { status: 500 })
    }
  },
}
