/**
 * Reading MessagePack frames without building them: a shape check that bounds what any decoder allocates, and a
 * peek at a frame's `id` (to answer a frame that is refused before it is decoded). Runtime-free.
 */

/**
 * Walks one MessagePack value without building it: true when it is complete, has no trailing bytes, nests at most
 * `maxDepth` containers deep, and every array/map declares no more items than bytes remain. A decoder that allocates
 * an array of the declared length on each header could be made to allocate gigabytes by a small frame of nested
 * headers; after this check, what any decoder allocates is bounded by the frame's size. The gateway runs it before
 * decoding (./msgpack.ts makes the same checks as it goes, so it is safe without it too).
 */
export function msgpackShapeOk(b: Uint8Array, maxDepth = 10): boolean {
  const n = b.length
  let p = 0
  const stack: number[] = []
  let remaining = 1
  const uint = (k: number): number => {
    if (p + k > n) return -1
    let v = 0
    for (let i = 0; i < k; i++) v = v * 256 + b[p++]!
    return v
  }
  for (;;) {
    if (remaining === 0) {
      if (stack.length === 0) return p === n
      remaining = stack.pop()!
      continue
    }
    if (p >= n) return false
    remaining--
    const c = b[p++]!
    let skip = -1
    let items = -1
    if (c <= 0x7f || c >= 0xe0) skip = 0
    else if (c <= 0x8f) items = (c & 0x0f) * 2
    else if (c <= 0x9f) items = c & 0x0f
    else if (c <= 0xbf) skip = c & 0x1f
    else {
      switch (c) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          skip = 0
          break
        case 0xc4:
        case 0xd9:
          skip = uint(1)
          break
        case 0xc5:
        case 0xda:
          skip = uint(2)
          break
        case 0xc6:
        case 0xdb:
          skip = uint(4)
          break
        case 0xc7:
          skip = uint(1)
          if (skip >= 0) skip += 1
          break
        case 0xc8:
          skip = uint(2)
          if (skip >= 0) skip += 1
          break
        case 0xc9:
          skip = uint(4)
          if (skip >= 0) skip += 1
          break
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4
          break
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8
          break
        case 0xcc:
        case 0xd0:
          skip = 1
          break
        case 0xcd:
        case 0xd1:
          skip = 2
          break
        case 0xd4:
          skip = 2
          break
        case 0xd5:
          skip = 3
          break
        case 0xd6:
          skip = 5
          break
        case 0xd7:
          skip = 9
          break
        case 0xd8:
          skip = 17
          break
        case 0xdc:
          items = uint(2)
          break
        case 0xdd:
          items = uint(4)
          break
        case 0xde:
          items = uint(2)
          if (items >= 0) items *= 2
          break
        case 0xdf:
          items = uint(4)
          if (items >= 0) items *= 2
          break
        default:
          return false // 0xc1: never used
      }
    }
    if (items >= 0) {
      if (items > n - p || stack.length >= maxDepth) return false
      stack.push(remaining)
      remaining = items
    } else {
      if (skip < 0 || p + skip > n) return false
      p += skip
    }
  }
}

/**
 * Reads `t` and `id` from the first entries of an encoded frame without decoding the rest (used to answer a frame
 * that is refused for its size). Returns undefined when they are not among the leading scalar entries.
 */
export function peekFrameId(b: Uint8Array): number | undefined {
  let p = 0
  const n = b.length
  const u8 = () => (p < n ? b[p++]! : -1)
  /** A big-endian unsigned integer of k bytes, or -1 (nothing consumed) when the frame ends first. */
  const uN = (k: number) => {
    if (p + k > n) return -1
    let v = 0
    for (let i = 0; i < k; i++) v = v * 256 + b[p++]!
    return v
  }
  const head = u8()
  let entries: number
  if ((head & 0xf0) === 0x80) entries = head & 0x0f
  else if (head === 0xde) entries = uN(2)
  else return undefined
  const str = (): string | null => {
    const c = u8()
    let len: number
    if ((c & 0xe0) === 0xa0) len = c & 0x1f
    else if (c === 0xd9) len = u8()
    else if (c === 0xda) len = uN(2)
    else return null
    if (len < 0 || p + len > n || len > 64) return null
    let s = ''
    for (let i = 0; i < len; i++) s += String.fromCharCode(b[p + i]!)
    p += len
    return s
  }
  /** An integer, or skip a short scalar (returns NaN), or null when the value is not a scalar we can skip. */
  const scalar = (): number | null => {
    const c = u8()
    if (c < 0) return null
    if (c <= 0x7f) return c
    if (c >= 0xe0) return c - 256
    if (c === 0xcc || c === 0xcd || c === 0xce || c === 0xcf) {
      const v = uN(c === 0xcc ? 1 : c === 0xcd ? 2 : c === 0xce ? 4 : 8)
      return v < 0 ? null : v // cut off: no id rather than an invented one
    }
    if (c === 0xc0 || c === 0xc2 || c === 0xc3) return NaN
    if ((c & 0xe0) === 0xa0) return ((p += c & 0x1f), NaN)
    if (c === 0xd9) return ((p += u8()), NaN)
    return null
  }
  for (let i = 0; i < Math.min(entries, 4); i++) {
    const key = str()
    if (key === null) return undefined
    const v = scalar()
    if (v === null) return undefined
    if (key === 'id') return Number.isSafeInteger(v) ? v : undefined
  }
  return undefined
}
