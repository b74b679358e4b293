// What snappy.c and lz4.c share: the hash table kept across calls, and unaligned little-endian loads and stores (wasm32
// is little-endian; memcpy compiles to one load or store). Each defines BLOCK and TABLE_BITS before including it.
#include <stdint.h>

// An entry is `position + gen` of the block that wrote it; each block raises gen by BLOCK, so an earlier block's entry
// (and an empty slot, 0) reads as a negative position: skipped. gen starts at BLOCK so that 0 is never a position.
static uint32_t table[1 << TABLE_BITS];
static uint32_t gen = BLOCK;

static inline uint32_t load32(const uint8_t *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
static inline void store64(uint8_t *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }

// Where the match of b[s...] against the earlier b[r...] ends, before `limit`: 8 bytes at a time, the first differing
// byte from the XOR's trailing zeros, then byte by byte in the last 8.
static inline uint32_t match_end(const uint8_t *b, uint32_t s, uint32_t r, uint32_t limit) {
  for (;;) {
    if (s + 8 > limit) {
      while (s < limit && b[r] == b[s]) {
        r++;
        s++;
      }
      return s;
    }
    uint64_t x = load64(b + s) ^ load64(b + r);
    if (x) return s + ((uint32_t)__builtin_ctzll(x) >> 3);
    s += 8;
    r += 8;
  }
}
