// A Cloudflare Worker that produces each request it receives to a Kafka topic.
//
//   POST /anything  (body)      -> the body is the record value; 202 at once, the ack is awaited in ctx.waitUntil()
//   GET  /anything              -> a JSON {method, url, time} is the value
//   ...?sync=1                  -> waits for the broker's ack and answers with the RecordMetadata
//   GET /produce-many?n=&topic= -> sends n records and waits for every ack (only with ENABLE_LOAD_ROUTE=1);
//                                  &scope=request runs it on a producer of the request instead of the shared one
//
// One producer, created lazily and kept for as long as its isolate lives, lives in a Durable Object (KafkaProducer):
// Workers binds sockets, timers and pending promises to the request that created them, so a producer shared by the
// stateless requests of an isolate would hold connections that the next request may not touch. A Durable Object's
// requests can share them: its producer keeps its connections, topic metadata, idempotent producer id and batches
// across requests, and concurrent requests share batches. See docs/runtime-workers.md.
import { DurableObject } from 'cloudflare:workers'
import {
  createProducer,
  ProducerClosedError,
  ProducerFatalError,
  type Producer,
  type RecordMetadata,
  type SaslOptions,
} from 'isokafka'
import { workersSocket } from 'isokafka/workers'
import { loadRecord } from './records.js'

export interface Env {
  KAFKA_BOOTSTRAP: string
  KAFKA_TOPIC?: string
  /** "true", "starttls" or empty */
  KAFKA_TLS?: string
  /** "plain", "scram-sha-256", "scram-sha-512" or empty */
  KAFKA_SASL_MECHANISM?: string
  KAFKA_SASL_USERNAME?: string
  KAFKA_SASL_PASSWORD?: string
  ENABLE_LOAD_ROUTE?: string
  PRODUCER: ProducerNamespace
}

/** The part of the Workers ExecutionContext used here. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void
}

/** The Durable Object namespace binding, typed for the RPC methods of KafkaProducer. */
interface ProducerNamespace {
  idFromName(name: string): unknown
  get(id: unknown): Pick<KafkaProducer, 'send' | 'produceMany'>
}

type Bytes = string | Uint8Array | null

export interface EventRecord {
  topic: string
  key: string | null
  value: string | Uint8Array
  headers: Record<string, string | null>
}

export interface LoadResult {
  n: number
  topic: string
  ms: number
  recordsPerSec: number
  /** [partition, offset] of record i, for read-back checks */
  positions: Array<[number, number]>
}

/** Errors cross the RPC boundary as plain data: the Kafka error code and retriable flag would be lost otherwise. */
export type Result<T> =
  | { ok: true; value: T }
  | { ok: false; error: { name: string; code?: string; message: string; retriable: boolean } }

function failure(err: unknown): Result<never> {
  const e = err as { name?: string; code?: string; message?: string; retriable?: boolean }
  return {
    ok: false,
    error: {
      name: e?.name ?? 'Error',
      code: e?.code,
      message: e?.message ?? String(err),
      retriable: e?.retriable ?? false,
    },
  }
}

export function newProducer(env: Env): Producer<Bytes, Bytes> {
  const mechanism = env.KAFKA_SASL_MECHANISM?.toLowerCase()
  const sasl = mechanism
    ? ({ mechanism, username: env.KAFKA_SASL_USERNAME ?? '', password: env.KAFKA_SASL_PASSWORD ?? '' } as SaslOptions)
    : undefined
  const tls = env.KAFKA_TLS === 'starttls' ? 'starttls' : env.KAFKA_TLS === 'true' || env.KAFKA_TLS === '1'
  return createProducer<Bytes, Bytes>({
    transport: workersSocket({ bootstrap: env.KAFKA_BOOTSTRAP, tls, sasl, clientId: 'isokafka-worker' }),
    // Every send settles well inside the 30 s that ctx.waitUntil() is given after the response.
    maxBlockMs: 10_000,
    requestTimeoutMs: 10_000,
    deliveryTimeoutMs: 25_000,
  })
}

async function produceMany(producer: Producer<Bytes, Bytes>, n: number, topic: string): Promise<LoadResult> {
  const started = Date.now()
  const sends = new Array<Promise<RecordMetadata>>(n)
  for (let i = 0; i < n; i++) sends[i] = producer.send({ topic, ...loadRecord(i) })
  const metas = await Promise.all(sends)
  const ms = Date.now() - started
  return {
    n,
    topic,
    ms,
    recordsPerSec: Math.round((n / Math.max(ms, 1)) * 1000),
    positions: metas.map((m) => [m.partition, m.offset]),
  }
}

/** Holds the producer. One instance (by name) serves every request; shard with more names if one is not enough. */
export class KafkaProducer extends DurableObject<Env> {
  private producer: Producer<Bytes, Bytes> | undefined

  private kafka(): Producer<Bytes, Bytes> {
    return (this.producer ??= newProducer(this.env))
  }

  /** A producer that can no longer send is dropped, so the next call builds a fresh one. */
  private forgetIfDead(err: unknown, p: Producer<Bytes, Bytes>): void {
    if ((err instanceof ProducerFatalError || err instanceof ProducerClosedError) && this.producer === p)
      this.producer = undefined
  }

  /** Resolves once the broker acknowledged the record (batched with the records of concurrent calls). */
  async send(event: EventRecord): Promise<Result<RecordMetadata>> {
    const p = this.kafka()
    try {
      return { ok: true, value: await p.send(event) }
    } catch (err) {
      this.forgetIfDead(err, p)
      return failure(err)
    }
  }

  async produceMany(n: number, topic: string): Promise<Result<LoadResult>> {
    const p = this.kafka()
    try {
      return { ok: true, value: await produceMany(p, n, topic) }
    } catch (err) {
      this.forgetIfDead(err, p)
      return failure(err)
    }
  }
}

function toResponse<T>(result: Result<T>): Response {
  if (result.ok) return Response.json(result.value)
  return Response.json(result.error, { status: result.error.code?.startsWith('INVALID') ? 400 : 502 })
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url)
    const kafka = env.PRODUCER.get(env.PRODUCER.idFromName('kafka-producer'))

    if (url.pathname === '/produce-many') {
      if (env.ENABLE_LOAD_ROUTE !== '1') return new Response('not found', { status: 404 })
      const n = Number(url.searchParams.get('n') ?? '10000')
      const topic = url.searchParams.get('topic') ?? env.KAFKA_TOPIC ?? 'events'
      if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
        return Response.json({ error: 'n must be in 1..1000000' }, { status: 400 })
      if (url.searchParams.get('scope') !== 'request') return toResponse(await kafka.produceMany(n, topic))
      // The other pattern: a producer of this request alone, closed (which flushes) before the request ends.
      const producer = newProducer(env)
      try {
        return toResponse({ ok: true, value: await produceMany(producer, n, topic) })
      } catch (err) {
        return toResponse(failure(err))
      } finally {
        ctx.waitUntil(producer.close())
      }
    }

    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null
    // The RPC itself can fail too (the object was reset by a deploy, or is overloaded): then delivery is unknown.
    const sent = kafka
      .send({
        topic: url.searchParams.get('topic') ?? env.KAFKA_TOPIC ?? 'events',
        key: request.headers.get('x-event-key'),
        value:
          body && body.length > 0
            ? body
            : JSON.stringify({ method: request.method, url: request.url, time: new Date().toISOString() }),
        headers: { 'content-type': request.headers.get('content-type'), method: request.method },
      })
      .catch((err: unknown): Result<RecordMetadata> => failure(err))
    if (url.searchParams.get('sync') === '1') return toResponse(await sent)

    // Answer now; the runtime keeps this request alive until the record is acknowledged (or failed).
    ctx.waitUntil(
      sent.then((result) => {
        if (!result.ok) console.error('isokafka: event not delivered', result.error)
      }),
    )
    return Response.json({ queued: true }, { status: 202 })
  },
}
