// Kafka's snappy (the xerial snappy-java stream) compressed in WebAssembly: the matcher of snappy.ts, step for step,
// so both write the same bytes (test/unit/codecs.test.ts compares them). It exists for speed: compiled to wasm32 it
// compresses the benchmark's JSON events ~1.3x faster than the TypeScript (64-bit loads and compares, no bounds
// checks), and snappy is CPU on the producer's one thread. Runtimes that cannot compile WebAssembly from bytes
// (Cloudflare Workers, pages whose CSP forbids it) use snappy.ts. Built by `node scripts/codecs-wasm.mjs`.
//
//   header   0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, int32 version 1, int32 compatible version 1 (big endian)
//   chunks   [int32 compressed length][raw snappy block of <= 32 KiB input]...
//
// Memory: the caller (snappy.ts) places the input and output in linear memory above __heap_base; the only state
// here is the hash table.
#define BLOCK 32768
#define TABLE_BITS 14
// matches are not looked for this close to a block's end (8-byte loads stay inside the input)
#define INPUT_MARGIN 15

#include "matcher.h"

static inline uint32_t hash(uint32_t v) { return (v * 0x1e35a7bdu) >> (32 - TABLE_BITS); }

// A literal; `fast`: at least 16 input bytes follow `from`, so short ones are copied as two 8-byte words (the output
// has 16 bytes of slack, and what follows overwrites the excess).
static uint8_t *emit_literal(uint8_t *d, const uint8_t *from, uint32_t len, int fast) {
  uint32_t n = len - 1;
  if (n < 60) {
    *d++ = (uint8_t)(n << 2);
  } else if (n < 256) {
    *d++ = 60 << 2;
    *d++ = (uint8_t)n;
  } else {
    // blocks are <= 32 KiB: two length bytes always suffice
    *d++ = 61 << 2;
    *d++ = (uint8_t)n;
    *d++ = (uint8_t)(n >> 8);
  }
  if (fast && len <= 16) {
    store64(d, load64(from));
    store64(d + 8, load64(from + 8));
  } else {
    __builtin_memcpy(d, from, len);
  }
  return d + len;
}

// A copy; longer than 64 goes out as 64s, leaving >= 4 for the last one so it may still be a 2-byte copy.
static uint8_t *emit_copy(uint8_t *d, uint32_t offset, uint32_t len) {
  while (len >= 68) {
    *d++ = (63 << 2) | 2;
    *d++ = (uint8_t)offset;
    *d++ = (uint8_t)(offset >> 8);
    len -= 64;
  }
  if (len > 64) {
    *d++ = (59 << 2) | 2;
    *d++ = (uint8_t)offset;
    *d++ = (uint8_t)(offset >> 8);
    len -= 60;
  }
  if (len >= 12 || offset >= 2048) {
    *d++ = (uint8_t)(((len - 1) << 2) | 2);
    *d++ = (uint8_t)offset;
    *d++ = (uint8_t)(offset >> 8);
  } else {
    *d++ = (uint8_t)(((offset >> 8) << 5) | ((len - 4) << 2) | 1);
    *d++ = (uint8_t)offset;
  }
  return d;
}

// One raw snappy block of b[0, n) at d; returns the new end of the output.
static uint8_t *compress_block(const uint8_t *b, uint32_t n, uint8_t *d) {
  for (uint32_t v = n;; v >>= 7) {
    if (v < 0x80) {
      *d++ = (uint8_t)v;
      break;
    }
    *d++ = (uint8_t)(v | 0x80);
  }
  if (n < INPUT_MARGIN + 2) return n ? emit_literal(d, b, n, 0) : d;
  if (gen > 0x3fff0000u) {
    __builtin_memset(table, 0, sizeof table);
    gen = BLOCK;
  }
  const uint32_t g = gen;
  gen += BLOCK;
  const uint32_t s_limit = n - INPUT_MARGIN;
  uint32_t next_emit = 0, s = 1;
  // the 4 bytes at the next position to probe, loaded once for its hash and its comparison
  uint32_t next_word = load32(b + s);
  uint32_t next_hash = hash(next_word);
  for (;;) {
    // lookups skip faster the longer nothing matches (1 byte at a time for 32 probes, then 2, ...)
    uint32_t skip = 32, next_s = s;
    int32_t cand;
    for (;;) {
      s = next_s;
      uint32_t word = next_word;
      uint32_t step = skip >> 5;
      next_s = s + step;
      skip += step;
      if (next_s > s_limit) goto tail;
      cand = (int32_t)(table[next_hash] - g);
      table[next_hash] = s + g;
      next_word = load32(b + next_s);
      next_hash = hash(next_word);
      if (cand >= 0 && load32(b + cand) == word) break;
    }
    d = emit_literal(d, b + next_emit, s - next_emit, next_emit + 16 <= n);
    for (;;) {
      // the match: 4 bytes known equal, then as far as it goes
      uint32_t base = s;
      s = match_end(b, s + 4, (uint32_t)cand + 4, n);
      d = emit_copy(d, base - (uint32_t)cand, s - base);
      next_emit = s;
      if (s >= s_limit) goto tail;
      // as Snappy: the position before the match's end into the table, then try for a match right at the end
      table[hash(load32(b + s - 1))] = s - 1 + g;
      uint32_t cur = load32(b + s);
      uint32_t h = hash(cur);
      cand = (int32_t)(table[h] - g);
      table[h] = s + g;
      if (cand < 0 || cur != load32(b + cand)) {
        next_word = load32(b + ++s);
        next_hash = hash(next_word);
        break;
      }
    }
  }
tail:
  if (next_emit < n) d = emit_literal(d, b + next_emit, n - next_emit, 0);
  return d;
}

static const uint8_t HEADER[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};

// src[0, n) as a xerial stream at dst; returns its length. dst has room for 16 + n + n/6 + 64 per block + 32 bytes.
__attribute__((export_name("snappy_xerial"))) uint32_t snappy_xerial(const uint8_t *src, uint32_t n, uint8_t *dst) {
  __builtin_memcpy(dst, HEADER, 16);
  uint8_t *d = dst + 16;
  for (uint32_t p = 0; p < n;) {
    uint32_t len = n - p < BLOCK ? n - p : BLOCK;
    uint8_t *at = d;
    d = compress_block(src + p, len, d + 4);
    uint32_t c = (uint32_t)(d - at - 4);
    at[0] = (uint8_t)(c >> 24);
    at[1] = (uint8_t)(c >> 16);
    at[2] = (uint8_t)(c >> 8);
    at[3] = (uint8_t)c;
    p += len;
  }
  return (uint32_t)(d - dst);
}
