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

/** Exponential backoff with ±20% jitter, as Java's ExponentialBackoff (multiplier 2). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  if (baseMs <= 0) return 0
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  const jitter = 1 + (random() * 2 - 1) * 0.2
  return Math.max(0, Math.min(maxMs, Math.round(exp * jitter)))
}

/**
 * Runs one pass function soon (coalesced into one microtask) or at the earliest requested time (one timer).
 * Both senders drive their loop with it.
 */
export class PassScheduler {
  private scheduled = false
  private timer: unknown = null
  private timerAt = Infinity
  private stopped = false

  constructor(private readonly clock: Clock, private readonly pass: () => void) {}

  /** Run a pass soon. */
  wake(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.pass()
    })
  }

  /**
   * Run a pass at `at` (ms) unless one is already due earlier. A timer that is overdue does not count: in Workers a
   * timer set during an earlier request never fires once that request is over (a producer in module scope lives on),
   * and trusting it would leave this request's linger or backoff waiting on nothing.
   */
  wakeAt(at: number): void {
    if (at === Infinity || this.stopped) return
    if (this.timer !== null) {
      if (this.timerAt >= this.clock.now()) {
        if (at >= this.timerAt) return
      } else {
        at = Math.min(at, this.timerAt) // overdue: replaced by one that runs the pass it owed now
      }
      this.clock.clearTimeout(this.timer)
    }
    this.timerAt = at
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      this.timerAt = Infinity
      this.pass()
    }, Math.max(0, at - this.clock.now()))
  }

  /** Cancel the timer; with `final`, later wakeAt calls are ignored too. */
  stop(final = false): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.timerAt = Infinity
    if (final) this.stopped = true
  }
}
