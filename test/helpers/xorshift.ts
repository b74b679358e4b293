/**
 * Deterministic pseudo-random numbers in [0, 1) (xorshift32), so a failure reproduces from its seed. A seed of 0
 * (which xorshift cannot leave) starts from `zeroSeed` instead.
 */
export function xorshift32(seed: number, zeroSeed = 1): () => number {
  let s = seed >>> 0 || zeroSeed
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 4294967296
  }
}
