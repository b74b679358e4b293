import { FakeClock } from './fake-clock.js'
import { FakeCluster, type FakeClusterOptions } from '../../src/testing/index.js'
import type { FakeTransportOptions } from '../../src/testing/transport.js'
import { createProducer, type Producer } from '../../src/producer/producer.js'
import type { ProducerOptions } from '../../src/producer/options.js'

/** FakeClock that can say when its next timer is due (so tests jump from timer to timer, letting I/O settle between). */
export class SteppingClock extends FakeClock {
  private readonly due = new Map<unknown, number>()
  override setTimeout(fn: () => void, ms: number): unknown {
    const at = this.now() + Math.max(0, ms)
    const id: unknown = super.setTimeout(() => {
      this.due.delete(id)
      fn()
    }, ms)
    this.due.set(id, at)
    return id
  }
  override clearTimeout(handle: unknown): void {
    this.due.delete(handle)
    super.clearTimeout(handle)
  }
  override dropTimers(): void {
    this.due.clear()
    super.dropTimers()
  }
  nextDue(): number {
    let min = Infinity
    for (const at of this.due.values()) if (at < min) min = at
    return min
  }
}

/** Bound on timer steps per advance/outcome, so a runaway loop fails the test instead of spinning for ever. */
const MAX_STEPS = 20_000

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve))

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: any }

/**
 * A fake cluster on a stepping fake clock, and producers wired to both. The fake network delivers bytes on
 * microtasks, so one macrotask turn completes any exchange that does not wait on a timer; `advance` moves fake time
 * from timer to timer with the network settled in between, so "instant" responses always beat timers.
 */
export class Harness {
  readonly clock = new SteppingClock()
  readonly cluster: FakeCluster
  private readonly producers: Array<Producer<any, any>> = []

  constructor(options: FakeClusterOptions = {}) {
    this.cluster = new FakeCluster({ clock: this.clock, ...options })
  }

  producer<K = any, V = any>(
    options: Partial<ProducerOptions<K, V>> = {},
    transport: FakeTransportOptions = {},
  ): Producer<K, V> {
    const p = createProducer<K, V>({
      transport: this.cluster.transport(transport),
      clock: this.clock,
      ...options,
    } as ProducerOptions<K, V>)
    this.producers.push(p)
    return p
  }

  /** Let every exchange that does not wait on fake time complete. */
  async settle(): Promise<void> {
    for (let i = 0; i < 3 || this.cluster.busy; i++) {
      await macrotask()
      if (i > 20_000) throw new Error('the fake cluster never went idle')
    }
  }

  /** Move fake time forward by `ms`, firing timers in order with the network settled before each. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms
    for (let steps = 0; ; steps++) {
      if (steps > MAX_STEPS)
        throw new Error(`more than ${MAX_STEPS} timer steps: is something retrying without backoff?`)
      await this.settle()
      const next = this.clock.nextDue()
      if (next > end) break
      await this.clock.advance(Math.max(0, next - this.clock.now()))
    }
    if (end > this.clock.now()) await this.clock.advance(end - this.clock.now())
    await this.settle()
  }

  /** Advance fake time until the promise settles (at most `maxMs`); returns its outcome without throwing. */
  async outcome<T>(promise: Promise<T>, maxMs = 600_000): Promise<Outcome<T>> {
    let result: Outcome<T> | null = null
    promise.then(
      (value) => (result = { ok: true, value }),
      (error) => (result = { ok: false, error }),
    )
    const end = this.clock.now() + maxMs
    for (let steps = 0; ; steps++) {
      if (steps > MAX_STEPS)
        throw new Error(`more than ${MAX_STEPS} timer steps: is something retrying without backoff?`)
      await this.settle()
      if (result) return result
      const next = this.clock.nextDue()
      if (next > end) throw new Error(`still pending after ${maxMs} ms of fake time`)
      await this.clock.advance(Math.max(0, next - this.clock.now()))
    }
  }

  /**
   * For code paths that wait on real asynchronous work the harness cannot see (Web Crypto digests, gzip streams):
   * fake time moves 1 ms per turn and each turn also waits 1 ms of real time, so that work finishes long before
   * any fake deadline comes near.
   */
  async runRealtime<T>(promise: Promise<T>, maxMs = 10_000): Promise<T> {
    let result: Outcome<T> | null = null
    promise.then(
      (value) => (result = { ok: true, value }),
      (error) => (result = { ok: false, error }),
    )
    for (let i = 0; i < maxMs && !result; i++) {
      await this.settle()
      await new Promise((resolve) => setTimeout(resolve, 1))
      if (!result) await this.clock.advance(1)
    }
    await this.settle()
    const r = result as Outcome<T> | null
    if (!r) throw new Error(`still pending after ${maxMs} ms of fake time`)
    if (!r.ok) throw r.error
    return r.value
  }

  /** Advance fake time until the promise resolves; throws its rejection. */
  async run<T>(promise: Promise<T>, maxMs?: number): Promise<T> {
    const o = await this.outcome(promise, maxMs)
    if (!o.ok) throw o.error
    return o.value
  }

  /** Advance until the promise rejects; returns the error (fails if it resolves). */
  async rejection(promise: Promise<unknown>, maxMs?: number): Promise<any> {
    const o = await this.outcome(promise, maxMs)
    if (o.ok) throw new Error(`expected a rejection, got ${JSON.stringify(o.value)}`)
    return o.error
  }

  /** Close every producer made here (forcefully) so no timer outlives the test. */
  async dispose(): Promise<void> {
    for (const p of this.producers.splice(0)) {
      const closing = p.close({ timeoutMs: 0 }).catch(() => {})
      await this.outcome(closing, 1000).catch(() => {})
    }
  }
}

export const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b))
