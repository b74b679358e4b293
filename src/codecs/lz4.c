// Kafka's lz4 (one LZ4 frame, as Java writes it) compressed in WebAssembly: the matcher of lz4.ts, step for step, so
// both write the same bytes (test/unit/codecs.test.ts compares them). It exists for speed, as snappy.c does: compiled
// to wasm32 it runs faster than the TypeScript (64-bit loads and compares, no bounds checks), and compression is CPU on
// the producer's one thread. Runtimes that cannot compile WebAssembly from bytes use lz4.ts. Built by
// `node scripts/codecs-wasm.mjs`. The frame and the block rules are described in lz4.ts.
#define BLOCK 65536
#define TABLE_BITS 14
#define MIN_MATCH 4
#define LAST_LITERALS 5
#define MF_LIMIT 12

#include "matcher.h"

static inline void store32le(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline uint32_t hash(uint32_t v) { return (v * 0x9e3779b1u) >> (32 - TABLE_BITS); }

static uint8_t *write_length(uint8_t *d, uint32_t rest) {
  for (; rest >= 255; rest -= 255) *d++ = 255;
  *d++ = (uint8_t)rest;
  return d;
}

// LZ4 sequences for b[0, n) at d; returns the new end of the output.
static uint8_t *compress_block(const uint8_t *b, uint32_t n, uint8_t *d) {
  uint32_t anchor = 0;
  if (n >= MF_LIMIT + 1) {
    if (gen > 0x3fff0000u) {
      __builtin_memset(table, 0, sizeof table);
      gen = BLOCK;
    }
    const uint32_t g = gen;
    gen += BLOCK;
    const uint32_t mf_limit = n - MF_LIMIT;
    const uint32_t match_limit = n - LAST_LITERALS;
    uint32_t s = 1;
    // the 4 bytes at the next position to probe, loaded (and hashed) one probe ahead
    uint32_t next_word = load32(b + s);
    uint32_t next_hash = hash(next_word);
    for (;;) {
      int32_t ref;
      // lookups skip faster the longer nothing matches (1 byte at a time for 64 probes, then 2, ...)
      uint32_t attempts = 1 << 6, next_s = s;
      for (;;) {
        s = next_s;
        uint32_t word = next_word;
        next_s = s + (attempts++ >> 6);
        if (next_s >= mf_limit) goto last;
        ref = (int32_t)(table[next_hash] - g);
        table[next_hash] = s + g;
        next_word = load32(b + next_s);
        next_hash = hash(next_word);
        if (ref >= 0 && load32(b + ref) == word) break;
      }
      // extend backwards into the pending literals, then forwards 8 bytes at a time
      while (s > anchor && ref > 0 && b[s - 1] == b[ref - 1]) {
        s--;
        ref--;
      }
      uint32_t m = match_end(b, s + MIN_MATCH, (uint32_t)ref + MIN_MATCH, match_limit);
      uint32_t lit = s - anchor, match = m - s - MIN_MATCH;
      *d++ = (uint8_t)(((lit >= 15 ? 15 : lit) << 4) | (match >= 15 ? 15 : match));
      if (lit >= 15) d = write_length(d, lit - 15);
      if (lit <= 16 && anchor + 16 <= n) {
        // two 8-byte words: the output has slack, and what follows overwrites the excess
        store64(d, load64(b + anchor));
        store64(d + 8, load64(b + anchor + 8));
      } else {
        __builtin_memcpy(d, b + anchor, lit);
      }
      d += lit;
      uint32_t offset = s - (uint32_t)ref;
      *d++ = (uint8_t)offset;
      *d++ = (uint8_t)(offset >> 8);
      if (match >= 15) d = write_length(d, match - 15);
      s = m;
      anchor = s;
      if (s >= mf_limit) break;
      table[hash(load32(b + s - 2))] = s - 2 + g;
      next_word = load32(b + s);
      next_hash = hash(next_word);
    }
  }
last:;
  uint32_t lit = n - anchor;
  *d++ = (uint8_t)((lit >= 15 ? 15 : lit) << 4);
  if (lit >= 15) d = write_length(d, lit - 15);
  __builtin_memcpy(d, b + anchor, lit);
  return d + lit;
}

// src[0, n) as one LZ4 frame at dst (header `hc` precomputed: xxHash32 of FLG and BD); returns its length.
// dst has room for 7 + 20 per block + n + n/255 + 4 + 16 bytes.
__attribute__((export_name("lz4_frame"))) uint32_t lz4_frame(const uint8_t *src, uint32_t n, uint8_t *dst,
                                                             uint32_t hc) {
  store32le(dst, 0x184d2204u);
  dst[4] = 0x60; // FLG: version 01, independent blocks
  dst[5] = 0x40; // BD: 64 KiB blocks
  dst[6] = (uint8_t)hc;
  uint8_t *d = dst + 7;
  for (uint32_t p = 0; p < n; p += BLOCK) {
    uint32_t len = n - p < BLOCK ? n - p : BLOCK;
    uint8_t *at = d;
    d = compress_block(src + p, len, d + 4);
    uint32_t c = (uint32_t)(d - at - 4);
    if (c >= len) {
      // incompressible: the block goes out stored, as the spec's high bit says
      __builtin_memcpy(at + 4, src + p, len);
      d = at + 4 + len;
      store32le(at, len | 0x80000000u);
    } else {
      store32le(at, c);
    }
  }
  store32le(d, 0);
  return (uint32_t)(d + 4 - dst);
}
