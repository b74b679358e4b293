import { backoffMs, type Clock, DueTimer } from './clock.js'

export interface RefreshTiming {
  clock: Clock
  retryBackoffMs: number
  retryBackoffMaxMs: number
}

/**
 * When metadata is fetched, for both backends (the Kafka cluster client and the gateway's topic metadata): requests
 * for a refresh are coalesced into one fetch at a time, spaced at least retryBackoffMs after the last one, and backed
 * off exponentially (Java's ExponentialBackoff) while fetches fail. What a fetch asks and how its answer is applied
 * stay with the owner (`run`).
 */
export class RefreshSchedule {
  #running: Promise<void> | null = null
  #failures = 0
  /** A refresh was asked for since the last one began: another one follows it. */
  #wanted = false
  #timer: DueTimer
  /** When the last fetch ended (answered or failed); 0 before the first. */
  lastRefreshAt = 0
  closed = false

  readonly #timing: RefreshTiming
  /** Starts a fetch when the timer fires (the owner's `run`). */
  readonly #start: () => void
  /**
   * Gives up on requests past their deadline whose timers never fired (in Workers, a timer set during an earlier
   * request never fires): a refresh stuck on one must not hold the next one back.
   */
  readonly #expireOverdue: (now: number) => void

  constructor(timing: RefreshTiming, start: () => void, expireOverdue: (now: number) => void) {
    this.#timing = timing
    this.#start = start
    this.#expireOverdue = expireOverdue
    this.#timer = new DueTimer(timing.clock)
  }

  /** Ask for a refresh soon (coalesced; backoff after failures). */
  request(): void {
    this.#wanted = true
    if (this.#running) {
      this.#expireOverdue(this.#timing.clock.now())
      return
    }
    if (this.#timer.pending() || this.closed) return
    const { clock, retryBackoffMs, retryBackoffMaxMs } = this.#timing
    const now = clock.now()
    const wait =
      this.#failures === 0
        ? Math.max(0, this.lastRefreshAt + retryBackoffMs - now)
        : backoffMs(this.#failures, retryBackoffMs, retryBackoffMaxMs, clock.random)
    this.#timer.set(now + wait, this.#start)
  }

  /**
   * Runs `fetch` now, or joins the fetch under way. After it settles and the schedule's bookkeeping is done,
   * `settled(error)` (null on success) applies the outcome and says whether to ask again (topics still unknown);
   * a refresh asked for while this one ran follows it either way. The returned promise rejects when the fetch did.
   */
  run(fetch: () => Promise<void>, settled: (error: unknown) => boolean): Promise<void> {
    if (this.#running) return this.#running
    this.#wanted = false
    const ended = (failed: boolean) => {
      this.#running = null
      this.#failures = failed ? this.#failures + 1 : 0
      this.lastRefreshAt = this.#timing.clock.now()
    }
    this.#running = fetch().then(
      () => {
        ended(false)
        if (settled(null) || this.#wanted) this.request()
      },
      (err: unknown) => {
        ended(true)
        if (settled(err ?? new Error('metadata fetch failed')) || this.#wanted) this.request()
        throw err
      },
    )
    return this.#running
  }

  close(): void {
    this.closed = true
    this.#timer.clear()
  }
}
