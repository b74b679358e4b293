/**
 * Time, timers and randomness, passed in so linger, backoff and timeout behaviour can be tested with a fake clock.
 */
export interface Clock {
  /** Milliseconds since the epoch (wall clock; Date.now() is the fastest timer in every runtime). */
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /** Uniform in [0, 1): used for backoff jitter and sticky-partition choice. */
  random(): number
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
}

const settled = Promise.resolve()
/**
 * `fn` in a microtask, as queueMicrotask(fn) would run it, for a third of the cost in Node (~45 ns against ~170, measured:
 * Node's queueMicrotask makes an async resource and a bound function per call). A send made per microtask (for await,
 * concurrent handlers) starts a run of its own each time, so this runs once per record there.
 */
function nextMicrotask(fn: () => void): void {
  void settled.then(fn)
}

/**
 * Date.now() for the per-record path. A read costs ~50 ns (a call into the engine and a new heap number), as much as
 * a tenth of what a record costs, so one read serves up to `burst` calls made in the same synchronous run; the next
 * microtask ends the run. When the calls turn out to be slow (two or more ms ticks passed between two reads), each call
 * reads the clock until calls are fast again (`burst` reads in a row in the same ms): a record's time is then never
 * staler than the few microseconds of a hot loop. `schedule` runs the end of the run in a microtask (a test passes its own).
 */
export function burstClock(
  read: () => number,
  burst = 16,
  schedule: (fn: () => void) => void = nextMicrotask,
): () => number {
  let cached = 0
  let left = 0 // calls the cached reading still serves
  let limit = burst // calls one reading serves in this run
  let sameMs = 0 // consecutive reads in one ms while limit is 1
  let armed = false
  const endRun = (): void => {
    left = 0
    limit = burst
    sameMs = 0
    armed = false
  }
  return () => {
    if (left > 0) {
      left--
      return cached
    }
    const t = read()
    if (!armed) {
      armed = true
      schedule(endRun)
    } else if (limit > 1) {
      if (t - cached >= 2) limit = 1
    } else if (t === cached) {
      if (++sameMs >= burst) limit = burst
    } else sameMs = 0
    cached = t
    left = limit - 1
    return t
  }
}

/** Exponential backoff with ±20% jitter, as Java's ExponentialBackoff (multiplier 2). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  if (baseMs <= 0) return 0
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  const jitter = 1 + (random() * 2 - 1) * 0.2
  return Math.max(0, Math.min(maxMs, Math.round(exp * jitter)))
}

/**
 * One timer that knows when it is due. An overdue timer does not count as pending: in Workers a timer set during an
 * earlier request never fires once that request is over (a producer in module scope lives on), so whoever would wait
 * for it replaces it instead.
 */
export class DueTimer {
  #handle: unknown = null
  readonly #clock: Clock
  /** When it is due; Infinity when not set. */
  at = Infinity

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Set and not yet overdue. */
  pending(): boolean {
    return this.#handle !== null && this.at >= this.#clock.now()
  }

  /** Run `fn` at `at` (ms), replacing whatever was set. */
  set(at: number, fn: () => void): void {
    this.clear()
    this.at = at
    this.#handle = this.#clock.setTimeout(
      () => {
        this.#handle = null
        this.at = Infinity
        fn()
      },
      Math.max(0, at - this.#clock.now()),
    )
  }

  clear(): void {
    if (this.#handle !== null) this.#clock.clearTimeout(this.#handle)
    this.#handle = null
    this.at = Infinity
  }
}

/**
 * Runs one pass function soon (coalesced into one microtask) or at the earliest requested time (one timer).
 * Both senders drive their loop with it.
 */
export class PassScheduler {
  #scheduled = false
  readonly #timer: DueTimer
  #stopped = false
  readonly #pass: () => void

  constructor(clock: Clock, pass: () => void) {
    this.#timer = new DueTimer(clock)
    this.#pass = pass
  }

  /** Run a pass soon. */
  wake(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      this.#pass()
    })
  }

  /** Run a pass at `at` (ms) unless one is already due earlier. An overdue timer is replaced by one that runs now. */
  wakeAt(at: number): void {
    if (at === Infinity || this.#stopped) return
    if (this.#timer.pending()) {
      if (at >= this.#timer.at) return
    } else {
      at = Math.min(at, this.#timer.at) // overdue (never fired): the pass it owed runs at once; not set: Infinity
    }
    this.#timer.set(at, this.#pass)
  }

  /** Cancel the timer; with `final`, later wakeAt calls are ignored too. */
  stop(final = false): void {
    this.#timer.clear()
    if (final) this.#stopped = true
  }
}
