/**
 * Fault injection for the fake cluster: rules that match the next requests of an API (optionally on one broker, or
 * touching one topic/partition) and make the broker misbehave in a chosen way. Each rule applies to `count` requests.
 */

/** How a response frame is damaged. */
export type CorruptMode =
  /** The body is cut in half (the size prefix matches): the decoder runs out of bytes. */
  | 'truncate'
  /** Three unexpected bytes after the body (the size prefix matches). */
  | 'trailing-bytes'
  /** The correlation id is off by one. */
  | 'correlation-id'
  /** The body is replaced by random bytes (from the cluster clock's random()). */
  | 'random-bytes'
  /** A size prefix far beyond any sane frame. */
  | 'oversize'
  /** Only the first half of the frame is written, then the connection closes. */
  | 'partial-frame'

export type FaultAction =
  /** Answer with this error code (per matching partition for Produce, per topic for Metadata, else top level). */
  | { kind: 'error'; errorCode: number }
  /** Hold the response this long (on the cluster's clock); later requests on the connection wait behind it. */
  | { kind: 'delay'; ms: number }
  /** Close the connection before handling the request (nothing appended) or after handling it (appended, no answer). */
  | { kind: 'disconnect'; when: 'before-append' | 'after-append' }
  /** Damage the response frame. */
  | { kind: 'corrupt'; mode: CorruptMode }
  /** Never answer, and stop reading the connection (the client's request timeout fires). */
  | { kind: 'no-response' }

export interface FaultTarget {
  /** Only requests to this broker (node id). */
  broker?: number
  /** Only Produce/Metadata requests that name this topic. */
  topic?: string
  /** With `topic`: only Produce requests carrying this partition. */
  partition?: number
  /** How many matching requests the fault applies to. Default 1; Infinity for all. */
  count?: number
  /** Let this many matching requests through untouched first. Default 0. */
  skip?: number
}

export interface Fault {
  readonly id: number
  readonly apiKey: number
  readonly target: Readonly<FaultTarget>
  readonly action: FaultAction
  /** Matching requests still to let through before it applies. */
  skip: number
  /** Requests it still applies to. */
  remaining: number
  /** Requests it applied to so far. */
  hits: number
}

/** What a request may touch: topics and partitions (Produce), topics (Metadata), nothing else. */
export interface RequestScope {
  topics: ReadonlyArray<{ topic: string; partitions?: readonly number[] }> | 'all' | null
}

/** The faults that matched one request, combined. */
export class MatchedFaults {
  readonly errors: Array<{ fault: Fault; errorCode: number }> = []
  delayMs = 0
  disconnect: 'before-append' | 'after-append' | null = null
  corrupt: CorruptMode | null = null
  noResponse = false

  get any(): boolean {
    return (
      this.errors.length > 0 || this.delayMs > 0 || this.disconnect !== null || this.corrupt !== null || this.noResponse
    )
  }

  /** The injected error for a topic (and partition), 0 if none. A fault without a topic target covers everything. */
  errorFor(topic?: string, partition?: number): number {
    for (const { fault, errorCode } of this.errors) {
      const t = fault.target
      if (t.topic !== undefined && topic !== undefined && t.topic !== topic) continue
      if (t.partition !== undefined && partition !== undefined && t.partition !== partition) continue
      return errorCode
    }
    return 0
  }
}

function touches(scope: RequestScope, target: FaultTarget): boolean {
  if (target.topic === undefined) return true
  if (scope.topics === null) return false
  if (scope.topics === 'all') return target.partition === undefined
  return scope.topics.some(
    (t) =>
      t.topic === target.topic &&
      (target.partition === undefined || !t.partitions || t.partitions.includes(target.partition)),
  )
}

export class FaultRegistry {
  private readonly faults: Fault[] = []
  private nextId = 1

  add(apiKey: number, action: FaultAction, target: FaultTarget = {}): Fault {
    const count = target.count ?? 1
    if (!(count > 0)) throw new RangeError(`fault count must be positive, got ${count}`)
    const fault: Fault = {
      id: this.nextId++,
      apiKey,
      target: { ...target },
      action,
      skip: target.skip ?? 0,
      remaining: count,
      hits: 0,
    }
    this.faults.push(fault)
    return fault
  }

  remove(fault: Fault): void {
    const i = this.faults.indexOf(fault)
    if (i >= 0) this.faults.splice(i, 1)
  }

  clear(): void {
    this.faults.length = 0
  }

  /** Faults not used up yet. */
  get pending(): readonly Fault[] {
    return this.faults
  }

  /** Finds (and uses up one count of) every fault matching this request. */
  match(apiKey: number, broker: number, scope: RequestScope): MatchedFaults {
    const out = new MatchedFaults()
    for (const f of [...this.faults]) {
      if (f.apiKey !== apiKey) continue
      if (f.target.broker !== undefined && f.target.broker !== broker) continue
      if (!touches(scope, f.target)) continue
      if (f.skip > 0) {
        f.skip--
        continue
      }
      f.remaining--
      f.hits++
      if (f.remaining <= 0) this.remove(f)
      const a = f.action
      switch (a.kind) {
        case 'error':
          out.errors.push({ fault: f, errorCode: a.errorCode })
          break
        case 'delay':
          out.delayMs += a.ms
          break
        case 'disconnect':
          if (out.disconnect !== 'before-append') out.disconnect = a.when
          break
        case 'corrupt':
          out.corrupt ??= a.mode
          break
        case 'no-response':
          out.noResponse = true
          break
      }
    }
    return out
  }
}

/** Damages an encoded response frame (size prefix included) as `mode` says. */
export function corruptFrame(
  frame: Uint8Array,
  mode: Exclude<CorruptMode, 'partial-frame'>,
  random: () => number,
): Uint8Array {
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)
  switch (mode) {
    case 'truncate': {
      // keep the size prefix and correlation id, cut the rest in half
      const body = frame.length - 8
      const out = frame.slice(0, 8 + Math.floor(body / 2))
      view(out).setInt32(0, out.length - 4)
      return out
    }
    case 'trailing-bytes': {
      const out = new Uint8Array(frame.length + 3)
      out.set(frame)
      out.set([0xde, 0xad, 0xbe], frame.length)
      view(out).setInt32(0, out.length - 4)
      return out
    }
    case 'correlation-id': {
      const out = frame.slice()
      view(out).setInt32(4, view(frame).getInt32(4) + 1)
      return out
    }
    case 'random-bytes': {
      const out = frame.slice()
      for (let i = 8; i < out.length; i++) out[i] = Math.floor(random() * 256)
      return out
    }
    case 'oversize': {
      const out = frame.slice()
      view(out).setInt32(0, 0x7fffffff)
      return out
    }
  }
}
