// DueTimer (the metadata refresh timers) and PassScheduler: the sender's "run a pass at time T" timer, including a timer that never fires (Workers cancels the
// timers of a request once it is over, while a producer in module scope lives on into the next request).
import { describe, expect, it } from 'vitest'
import { DueTimer, PassScheduler, type Clock } from '../../src/clock.js'

/** A clock whose timers fire only when `fire()` is called (or never, for a "dead" timer). */
function manualClock() {
  let now = 1_000
  let nextId = 1
  const timers = new Map<number, { at: number; fn: () => void }>()
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++
      timers.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout: (h) => void timers.delete(h as number),
    random: () => 0.5,
  }
  return {
    clock,
    timers,
    advance: (ms: number) => (now += ms),
    /** Fire every live timer due by now. */
    fire: () => {
      for (const [id, t] of [...timers]) if (t.at <= now) timers.delete(id), t.fn()
    },
  }
}

describe('PassScheduler.wakeAt', () => {
  it('keeps one timer, moved earlier but never later', () => {
    const c = manualClock()
    let passes = 0
    const s = new PassScheduler(c.clock, () => passes++)
    s.wakeAt(1_050)
    s.wakeAt(1_080) // later: the 1_050 timer stays
    expect([...c.timers.values()].map((t) => t.at)).toEqual([1_050])
    s.wakeAt(1_020) // earlier: replaces it
    expect([...c.timers.values()].map((t) => t.at)).toEqual([1_020])
    c.advance(20)
    c.fire()
    expect(passes).toBe(1)
    expect(c.timers.size).toBe(0)
  })

  it('replaces an overdue timer that never fired, and runs the owed pass at once', () => {
    const c = manualClock()
    let passes = 0
    const s = new PassScheduler(c.clock, () => passes++)
    s.wakeAt(1_005) // linger of a batch in "request 1"
    const dead = [...c.timers.keys()]
    for (const id of dead) c.timers.delete(id) // request 1 ended: its timer will never fire (no clearTimeout either)
    c.advance(40) // "request 2", later
    s.wakeAt(1_045) // this request's linger
    const live = [...c.timers.values()]
    expect(live).toHaveLength(1)
    expect(live[0]!.at).toBe(1_040) // now: the pass the dead timer owed
    c.fire()
    expect(passes).toBe(1)
  })

  it('does nothing after stop(true)', () => {
    const c = manualClock()
    const s = new PassScheduler(c.clock, () => {})
    s.stop(true)
    s.wakeAt(1_010)
    expect(c.timers.size).toBe(0)
  })
})

describe('DueTimer.pending (what the metadata refreshes wait on)', () => {
  it('is pending until its time, not once it is overdue; set() replaces the dead one', () => {
    const c = manualClock()
    let fired = 0
    const t = new DueTimer(c.clock)
    expect(t.pending()).toBe(false)
    t.set(1_100, () => fired++)
    expect(t.pending()).toBe(true)
    c.advance(100)
    expect(t.pending()).toBe(true) // due now: still waited for
    for (const id of [...c.timers.keys()]) c.timers.delete(id) // the request that set it ended
    c.advance(1)
    expect(t.pending()).toBe(false)
    t.set(1_101, () => fired++)
    expect(c.timers.size).toBe(1)
    c.fire()
    expect(fired).toBe(1)
    expect(t.pending()).toBe(false)
    expect(t.at).toBe(Infinity)
  })
})
