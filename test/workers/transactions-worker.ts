// Test Worker (runs inside workerd, driven by transactions.test.ts through Miniflare): a Durable Object holds one
// transactional producer across requests (initTransactions on its first use), over the Workers TCP transport. Each
// request runs one transaction with the records it is sent, then commits it or aborts it (?end=commit|abort).
import { DurableObject } from 'cloudflare:workers'
import { createProducer, type Producer } from '../../src/index.js'
import { workersSocket } from '../../adapters/workers-socket/index.js'

interface Env {
  KAFKA_BOOTSTRAP: string
  PRODUCER: {
    idFromName(name: string): unknown
    get(id: unknown): { run(topic: string, values: string[], end: string): Promise<unknown> }
  }
}

export class TransactionalProducer extends DurableObject<Env> {
  private producer: Producer<string, string> | undefined
  private ready: Promise<void> | undefined

  private async kafka(): Promise<Producer<string, string>> {
    if (!this.producer) {
      this.producer = createProducer<string, string>({
        transport: workersSocket({ bootstrap: this.env.KAFKA_BOOTSTRAP }),
        transactionalId: 'workerd-transactional-producer',
        lingerMs: 5,
        requestTimeoutMs: 15_000,
      })
      this.ready = this.producer.initTransactions()
    }
    await this.ready
    return this.producer
  }

  async run(topic: string, values: string[], end: string): Promise<unknown> {
    try {
      const p = await this.kafka()
      p.beginTransaction()
      const sent = values.map((value) =>
        p.send({ topic, value }).then(
          (m) => [m.partition, m.offset],
          (e: Error & { code?: string }) => e.code,
        ),
      )
      if (end === 'commit') await p.commitTransaction()
      else {
        await p.flush() // written, then aborted: read_committed must not show them
        await p.abortTransaction()
      }
      return { ok: true, outcomes: await Promise.all(sent) }
    } catch (e) {
      const err = e as Error & { code?: string; cause?: Error }
      return { ok: false, code: err.code, message: err.message, cause: err.cause?.message }
    }
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    const values = (await request.json()) as string[]
    const stub = env.PRODUCER.get(env.PRODUCER.idFromName('txn'))
    return Response.json(
      await stub.run(url.searchParams.get('topic')!, values, url.searchParams.get('end') ?? 'commit'),
    )
  },
}
