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
