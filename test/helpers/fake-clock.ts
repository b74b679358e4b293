import type { Clock } from '../../src/clock.js'

/** A manual clock: timers fire only when the test advances time. Randomness is a seeded LCG. */
export class FakeClock implements Clock {
  private t: number
  private timers: Array<{ at: number; fn: () => void; id: number }> = []
  private nextId = 1
  private seed: number
  constructor(start = 1_000_000, seed = 42) {
    this.t = start
    this.seed = seed
  }
  now(): number {
    return this.t
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id })
    return id
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle)
  }
  random(): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648
    return this.seed / 2147483648
  }
  /** Forget every pending timer without running it, as Workers does with the timers of a request that is over. */
  dropTimers(): void {
    this.timers = []
  }
  get pendingTimers(): number {
    return this.timers.length
  }
  /** Advance time, firing due timers in order (and letting microtasks run between them). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    for (;;) {
      await flushMicrotasks()
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id)
      const next = this.timers[0]
      if (!next || next.at > end) break
      this.timers.shift()
      this.t = Math.max(this.t, next.at)
      next.fn()
    }
    this.t = end
    await flushMicrotasks()
  }
}

export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve()
}
