// isokafka/otel against the real broker: spans from the OTel SDK's in-memory exporter checked against the messaging
// semantic conventions, for acknowledged records and for failures the broker and the producer report, and the
// traceparent header read back from Kafka by kcat (an independent reader) matched to the span that sent the record.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type ContextManager,
} from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base'
import { createProducer, type Producer, type RecordMetadata } from '../../src/index.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { instrumentProducer } from '../../adapters/otel/index.js'
import { createTopic, readAllWithKcat, uniqueTopic, type KcatRecord } from '../helpers/kafka-tools.js'

const bootstrap = inject('kafkaBootstrap')
const dec = new TextDecoder()

// The wrapper reads the active context synchronously inside send(); a stack is all `context.with` needs here (the
// SDK's async-hooks manager is a separate package)
class StackContextManager implements ContextManager {
  private stack: Context[] = []
  active(): Context {
    return this.stack[this.stack.length - 1] ?? ROOT_CONTEXT
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    this.stack.push(ctx)
    try {
      return fn.call(thisArg, ...args)
    } finally {
      this.stack.pop()
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target
  }
  enable(): this {
    return this
  }
  disable(): this {
    this.stack = []
    return this
  }
}

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const propagator = new W3CTraceContextPropagator()
const tracer = provider.getTracer('otel-test')
let topic: string

function header(rec: KcatRecord, name: string): string[] {
  return rec.headers.filter(([k]) => k === name).map(([, v]) => (v === null ? 'NULL' : dec.decode(v)))
}

function spanAt(spans: ReadableSpan[], partition: number, offset: number): ReadableSpan {
  const s = spans.find(
    (x) =>
      x.attributes['messaging.destination.partition.id'] === String(partition) &&
      x.attributes['messaging.kafka.offset'] === offset,
  )
  if (!s) throw new Error(`no span for ${partition}:${offset}`)
  return s
}

beforeAll(async () => {
  context.setGlobalContextManager(new StackContextManager())
  topic = uniqueTopic('otel')
  // one topic for the whole file (each creation starts a JVM); the broker's refusal comes from its default
  // message.max.bytes (1 MiB)
  await createTopic(bootstrap, topic, 3)
})

afterAll(async () => {
  context.disable()
  await provider.shutdown()
})

describe('isokafka/otel on a real broker', () => {
  it('a PRODUCER span per acknowledged record (send, sendBatch, produce), with its context in the record headers', async () => {
    exporter.reset()
    const base = createProducer({ transport: tcp({ bootstrap }), clientId: 'otel-it', lingerMs: 5 })
    const producer = instrumentProducer(base, {
      tracerProvider: provider,
      injectContext: true,
      propagator,
      clientId: 'otel-it',
      server: bootstrap,
    })
    const parent = tracer.startSpan('request')
    const parentCtx = trace.setSpan(ROOT_CONTEXT, parent)
    const userTraceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const metas: RecordMetadata[] = []
    const produced: Array<RecordMetadata | null> = []
    await context.with(parentCtx, async () => {
      const sends = [
        producer.send({ topic, key: 'user-1', value: 'héllo wörld', headers: { app: 'x' } }),
        // a header the user set is not overwritten
        producer.send({ topic, key: 'user-2', value: new Uint8Array(7), headers: [['traceparent', userTraceparent]] }),
        producer.sendBatch([
          { topic, value: null, partition: 2 },
          { topic, key: 'user-3', value: 'b' },
        ]),
      ]
      const onDelivery = (err: Error | null, meta: RecordMetadata | null) => produced.push(err ? null : meta)
      producer.produce({ topic, key: 'user-4', value: 'p' }, onDelivery)
      const [a, b, batch] = await Promise.all(sends)
      metas.push(a as RecordMetadata, b as RecordMetadata, ...(batch as RecordMetadata[]))
    })
    await producer.flush()
    await producer.close()
    parent.end()
    expect(produced).toHaveLength(1)
    expect(produced[0]).not.toBeNull()
    metas.push(produced[0]!)

    const spans = exporter.getFinishedSpans().filter((s) => s.name !== 'request')
    expect(spans).toHaveLength(5)
    for (const s of spans) {
      expect(s.name).toBe(`send ${topic}`)
      expect(s.kind).toBe(SpanKind.PRODUCER)
      expect(s.status.code).toBe(SpanStatusCode.UNSET)
      expect(s.parentSpanContext?.spanId).toBe(parent.spanContext().spanId)
      expect(s.spanContext().traceId).toBe(parent.spanContext().traceId)
      expect(s.instrumentationScope.name).toBe('isokafka')
      expect(s.attributes).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.destination.name': topic,
        'messaging.client.id': 'otel-it',
        'server.address': bootstrap.split(':')[0],
        'server.port': Number(bootstrap.split(':')[1]),
      })
      expect(s.attributes['error.type']).toBeUndefined()
    }
    // partition and offset from each record's acknowledgement
    const byKey = new Map(spans.map((s) => [s.attributes['messaging.kafka.message.key'] ?? 'none', s]))
    const keys = ['user-1', 'user-2', 'none', 'user-3', 'user-4']
    keys.forEach((k, i) => {
      const s = byKey.get(k)!
      expect(s.attributes['messaging.destination.partition.id']).toBe(String(metas[i]!.partition))
      expect(s.attributes['messaging.kafka.offset']).toBe(metas[i]!.offset)
    })
    expect(byKey.get('user-1')!.attributes['messaging.message.body.size']).toBe(13) // 'héllo wörld' in UTF-8
    expect(byKey.get('user-2')!.attributes['messaging.message.body.size']).toBe(7)
    expect(byKey.get('none')!.attributes['messaging.kafka.message.tombstone']).toBe(true)
    expect(byKey.get('none')!.attributes['messaging.destination.partition.id']).toBe('2')
    expect(byKey.get('user-3')!.attributes['messaging.kafka.message.tombstone']).toBeUndefined()

    // kcat reads the headers back; each traceparent names the trace and the span that sent that record
    const read = await readAllWithKcat(bootstrap, topic, 5)
    expect(read).toHaveLength(5)
    for (const rec of read) {
      const s = spanAt(spans, rec.partition, rec.offset)
      const tp = header(rec, 'traceparent')
      expect(tp).toHaveLength(1)
      if (s.attributes['messaging.kafka.message.key'] === 'user-2') {
        expect(tp[0]).toBe(userTraceparent)
        continue
      }
      const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp[0]!)
      expect(m, tp[0]).not.toBeNull()
      expect(m![1]).toBe(s.spanContext().traceId)
      expect(m![2]).toBe(s.spanContext().spanId)
      expect(m![3]).toBe('01') // sampled
      if (s.attributes['messaging.kafka.message.key'] === 'user-1') expect(header(rec, 'app')).toEqual(['x'])
    }
  })

  it('failures: the broker refuses a record over 1 MiB (MESSAGE_TOO_LARGE), unknown topic (MAX_BLOCK_TIMEOUT), produce() throws (RECORD_TOO_LARGE)', async () => {
    exporter.reset()
    const base = createProducer({ transport: tcp({ bootstrap }), maxBlockMs: 300, maxRequestSize: 4 << 20, retries: 0 })
    const producer = instrumentProducer(base, { tracerProvider: provider })
    const missing = uniqueTopic('otel-missing')
    const big = await producer
      .send({ topic, value: new Uint8Array(1100_000), partition: 1 })
      .catch((e: { code: string }) => e)
    expect((big as { code: string }).code).toBe('MESSAGE_TOO_LARGE')
    const unknown = await producer.send({ topic: missing, key: 'k', value: 'v' }).catch((e: { code: string }) => e)
    expect((unknown as { code: string }).code).toBe('MAX_BLOCK_TIMEOUT')
    expect(() => producer.produce({ topic, value: new Uint8Array(5 << 20) }, () => {})).toThrow(
      expect.objectContaining({ code: 'RECORD_TOO_LARGE' }),
    )
    // still fine after the failures
    const ok = await producer.send({ topic, value: 'fits', partition: 1 })
    await producer.close()

    const spans = exporter.getFinishedSpans()
    expect(spans.map((s) => s.name)).toEqual([`send ${topic}`, `send ${missing}`, `send ${topic}`, `send ${topic}`])
    const [tooLarge, timedOut, thrown, fine] = spans as [ReadableSpan, ReadableSpan, ReadableSpan, ReadableSpan]
    for (const [s, code] of [
      [tooLarge, 'MESSAGE_TOO_LARGE'],
      [timedOut, 'MAX_BLOCK_TIMEOUT'],
      [thrown, 'RECORD_TOO_LARGE'],
    ] as const) {
      expect(s.kind).toBe(SpanKind.PRODUCER)
      expect(s.status.code).toBe(SpanStatusCode.ERROR)
      expect(s.status.message).toBeTruthy()
      expect(s.attributes['error.type']).toBe(code)
      expect(s.attributes['messaging.kafka.offset']).toBeUndefined()
      expect(s.events.some((e) => e.name === 'exception')).toBe(true)
    }
    expect(timedOut.attributes['messaging.kafka.message.key']).toBe('k')
    expect(fine.status.code).toBe(SpanStatusCode.UNSET)
    expect(fine.attributes['messaging.kafka.offset']).toBe(ok.offset)
    expect(fine.attributes['error.type']).toBeUndefined()
  })

  it('no tracer provider registered: records go out unchanged, no spans, no headers added', async () => {
    exporter.reset()
    const plainTopic = topic
    const producer: Producer<string | undefined, string> = instrumentProducer(
      createProducer({ transport: tcp({ bootstrap }) }),
      {
        injectContext: true, // the global propagator is the API's no-op too
      },
    )
    const meta = await producer.send({ topic: plainTopic, value: 'untraced', partition: 0 })
    let cb: RecordMetadata | null = null
    producer.produce({ topic: plainTopic, value: 'untraced-2', partition: 0 }, (_e, m) => (cb = m))
    await producer.close()
    expect(cb).not.toBeNull()
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    // a fresh topic without transactions: partition 0 holds offsets 0..last
    const read = await readAllWithKcat(bootstrap, plainTopic, cb!.offset + 1, 30_000, { partition: 0 })
    const mine = read.filter((r) => r.offset === meta.offset || r.offset === cb!.offset)
    expect(mine).toHaveLength(2)
    for (const r of mine) expect(r.headers).toEqual([])
  })
})

describe('isokafka/otel without a broker (stub producer)', () => {
  // records as the wrapper hands them to the producer, acknowledged at once
  function stub() {
    const seen: Array<{ headers?: unknown; key?: unknown }> = []
    let n = 0
    const p = {
      send: async (r: { headers?: unknown; key?: unknown }) => (
        seen.push(r), { topic: 't', partition: 0, offset: n++, timestamp: 0 }
      ),
      transaction: async (fn: (p: unknown) => Promise<unknown>) => fn(p),
      flush: async () => {},
    }
    return { seen, producer: p as unknown as Producer<unknown, unknown> }
  }

  it('merges the context into object or pair headers without overwriting (any case) or mutating; traces sends inside transaction(fn)', async () => {
    exporter.reset()
    const { seen, producer: inner } = stub()
    const producer = instrumentProducer(inner, { tracerProvider: provider, injectContext: true, propagator })
    const objHeaders = { a: '1' }
    const pairHeaders: Array<[string, string]> = [['a', '1']]
    await producer.send({ topic: 't', value: 'x', headers: objHeaders, key: 42 })
    await producer.send({ topic: 't', value: 'x', headers: pairHeaders })
    await producer.send({ topic: 't', value: 'x', headers: { TraceParent: 'mine' } })
    await producer.transaction(async (tx) => {
      await tx.send({ topic: 't', value: 'in-tx' })
    })
    await producer.flush() // not wrapped: the producer's own
    expect(objHeaders).toEqual({ a: '1' })
    expect(pairHeaders).toEqual([['a', '1']])
    const spans = exporter.getFinishedSpans()
    expect(spans).toHaveLength(4)
    const tp = (i: number) => `00-${spans[i]!.spanContext().traceId}-${spans[i]!.spanContext().spanId}-01`
    expect(seen[0]!.headers).toEqual({ a: '1', traceparent: tp(0) })
    expect(seen[1]!.headers).toEqual([
      ['a', '1'],
      ['traceparent', tp(1)],
    ])
    expect(seen[2]!.headers).toEqual({ TraceParent: 'mine' })
    expect(seen[3]!.headers).toEqual({ traceparent: tp(3) })
    expect(spans[0]!.attributes['messaging.kafka.message.key']).toBe('42')
  })
})
