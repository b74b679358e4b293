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
