// Record readers for `isokafka produce`: bytes in (chunks of a stream, as they come), records out, pulled one at a
// time with next() so the caller can stop between two records when the producer asks it to wait. Nothing here holds
// more than the chunk being read and one partial record.

export interface CliRecord {
  key: Uint8Array | null
  value: Uint8Array | null
  headers?: Array<[string, Uint8Array | null]>
  partition?: number
  timestamp?: number
  topic?: string
}

/** A piece of input that is not a record (bad JSON, a truncated frame): counted as an INVALID_INPUT failure. */
export class InputProblem {
  constructor(readonly message: string) {}
}

export interface RecordReader {
  push(chunk: Uint8Array): void
  /** No more input (end of a file): next() returns what the last bytes hold. */
  end(): void
  /** The next record, a problem, or null when it needs more input (or, after end(), when it is done). */
  next(): CliRecord | InputProblem | null
}

export type InputFormat = 'lines' | 'json' | 'binary' | 'binary-kv'

function asBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength)
}

/** A plain Uint8Array view: its subarray() is several times cheaper than a Buffer's (no species constructor). */
function plain(c: Uint8Array): Uint8Array {
  return Buffer.isBuffer(c) ? new Uint8Array(c.buffer, c.byteOffset, c.byteLength) : c
}

/** Position of `needle` in `hay` from `from`, or -1. One byte: the typed array's own indexOf (no call into C++). */
export function find(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  if (needle.length === 1) return hay.indexOf(needle[0]!, from)
  return asBuffer(hay).indexOf(needle, from)
}

/** The longest record the readers assemble (far above any broker's message.max.bytes): input is not held whole. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024

/**
 * Splits input at a delimiter (one or more bytes), as kcat -D does: empty pieces are skipped, the bytes after the
 * last delimiter are a record too. A piece inside a chunk is a view of it; one that runs over chunks is kept as views
 * and joined once its end is found. A piece longer than MAX_RECORD_BYTES is dropped up to the next delimiter and
 * reported (as an InputProblem from next()), so a file without delimiters is never held whole.
 */
export class DelimitedReader {
  private pieces: Uint8Array[] = []
  private carried = 0
  private cur: Uint8Array = new Uint8Array(0)
  private pos = 0
  private ended = false
  private skipping = false
  private problem: InputProblem | null = null
  /** Number of pieces returned or dropped so far (1-based line number of the last one, for messages). */
  count = 0

  constructor(private readonly delimiter: Uint8Array) {}

  push(chunk: Uint8Array): void {
    const rest = this.cur.subarray(this.pos)
    if (rest.length > 0 && !this.skipping) {
      this.pieces.push(rest)
      this.carried += rest.length
      if (this.carried > MAX_RECORD_BYTES) {
        this.problem = new InputProblem(
          `line ${this.count + 1}: longer than ${MAX_RECORD_BYTES} bytes: dropped up to the next delimiter`,
        )
        this.skipping = true
        this.pieces = []
        this.carried = 0
      }
    }
    this.cur = plain(chunk)
    this.pos = 0
  }

  end(): void {
    this.ended = true
  }

  /** The last n carried bytes. */
  private tail(n: number): Uint8Array {
    const parts: Uint8Array[] = []
    for (let i = this.pieces.length - 1, need = n; i >= 0 && need > 0; i--) {
      const p = this.pieces[i]!
      parts.unshift(p.subarray(Math.max(0, p.length - need)))
      need -= p.length
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }

  private takeCarried(last: Uint8Array, dropEnd = 0): Uint8Array {
    const parts = last.length > 0 ? [...this.pieces, last] : this.pieces
    this.pieces = []
    this.carried = 0
    const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    return dropEnd > 0 ? whole.subarray(0, whole.length - dropEnd) : whole
  }

  /** The next non-empty piece, a problem, or null. */
  nextPiece(): Uint8Array | InputProblem | null {
    const d = this.delimiter
    for (;;) {
      if (this.problem !== null) {
        const p = this.problem
        this.problem = null
        return p
      }
      if (this.skipping) {
        // (a multi-byte delimiter split over two chunks is not seen while skipping: the drop runs to the next one)
        const at = find(this.cur, d, this.pos)
        if (at < 0) {
          this.pos = this.cur.length
          if (this.ended) this.skipping = false
          return null
        }
        this.pos = at + d.length
        this.skipping = false
        this.count++
        continue
      }
      let piece: Uint8Array | null = null
      if (this.carried > 0) {
        if (d.length > 1 && this.pos === 0) {
          // a delimiter may start in the carried bytes and end in this chunk
          const tail = this.tail(d.length - 1)
          const at = find(Buffer.concat([tail, this.cur.subarray(0, d.length - 1)]), d)
          if (at >= 0 && at < tail.length) {
            piece = this.takeCarried(new Uint8Array(0), tail.length - at)
            this.pos = at + d.length - tail.length
          }
        }
        if (piece === null) {
          const at = find(this.cur, d, this.pos)
          if (at >= 0) {
            piece = this.takeCarried(this.cur.subarray(this.pos, at))
            this.pos = at + d.length
          } else if (this.ended) {
            piece = this.takeCarried(this.cur.subarray(this.pos))
            this.pos = this.cur.length
          } else return null
        }
      } else {
        const at = find(this.cur, d, this.pos)
        if (at >= 0) {
          piece = this.cur.subarray(this.pos, at)
          this.pos = at + d.length
        } else if (this.ended && this.pos < this.cur.length) {
          piece = this.cur.subarray(this.pos)
          this.pos = this.cur.length
        } else return null
      }
      this.count++
      if (piece.length > 0) return piece
    }
  }
}

/** Lines (or -D pieces); with a key delimiter, the bytes before its first occurrence are the key (kcat -K). */
export function lineReader(delimiter: Uint8Array, keyDelimiter: Uint8Array | null): RecordReader {
  const r = new DelimitedReader(delimiter)
  return {
    push: (c) => r.push(c),
    end: () => r.end(),
    next() {
      const line = r.nextPiece()
      if (line === null || line instanceof InputProblem) return line
      if (keyDelimiter === null) return { key: null, value: line }
      const at = find(line, keyDelimiter)
      // no key delimiter in the line: the whole line is the value and the key is null, as kcat does
      if (at < 0) return { key: null, value: line }
      return { key: line.subarray(0, at), value: line.subarray(at + keyDelimiter.length) }
    },
  }
}

const utf8 = new TextEncoder()
const text = new TextDecoder()

function bytesField(o: Record<string, unknown>, name: string, alt?: string): Uint8Array | null {
  const b64 = o[`${name}Base64`]
  if (typeof b64 === 'string') return Buffer.from(b64, 'base64')
  const v = alt !== undefined && !(name in o) ? o[alt] : o[name]
  if (v === undefined || v === null) return null
  if (typeof v === 'string') return utf8.encode(v)
  return utf8.encode(JSON.stringify(v)) // an object, array, number or boolean: its JSON text
}

function headerValue(v: unknown): Uint8Array | null {
  if (v === null || v === undefined) return null
  return utf8.encode(typeof v === 'string' ? v : JSON.stringify(v))
}

function jsonHeaders(h: unknown): Array<[string, Uint8Array | null]> | string {
  if (h === undefined || h === null) return []
  if (Array.isArray(h)) {
    if (h.every((e) => Array.isArray(e))) {
      // [[name, value], ...]
      const out: Array<[string, Uint8Array | null]> = []
      for (const e of h as unknown[][]) {
        if (typeof e[0] !== 'string') return 'a header name is not a string'
        out.push([e[0], headerValue(e[1])])
      }
      return out
    }
    // kcat -J's flat form: [name, value, name, value, ...]
    if (h.length % 2 !== 0) return 'a flat headers array needs name, value pairs'
    const out: Array<[string, Uint8Array | null]> = []
    for (let i = 0; i < h.length; i += 2) {
      if (typeof h[i] !== 'string') return 'a header name is not a string'
      out.push([h[i] as string, headerValue(h[i + 1])])
    }
    return out
  }
  if (typeof h === 'object') return Object.entries(h as Record<string, unknown>).map(([k, v]) => [k, headerValue(v)])
  return 'headers must be an object or an array'
}

/**
 * One JSON object per line: key, value (or kcat's payload), keyBase64/valueBase64 for binary, headers, partition,
 * timestamp (or kcat's ts), topic. So `kcat -C -J` output can be produced again as it is.
 */
export function jsonReader(): RecordReader {
  const r = new DelimitedReader(Uint8Array.of(0x0a))
  return {
    push: (c) => r.push(c),
    end: () => r.end(),
    next() {
      const line = r.nextPiece()
      if (line === null || line instanceof InputProblem) return line
      const where = `line ${r.count}`
      let o: unknown
      try {
        o = JSON.parse(text.decode(line))
      } catch (err) {
        return new InputProblem(`${where}: not JSON (${(err as Error).message})`)
      }
      if (o === null || typeof o !== 'object' || Array.isArray(o))
        return new InputProblem(`${where}: not a JSON object`)
      const obj = o as Record<string, unknown>
      const headers = jsonHeaders(obj.headers)
      if (typeof headers === 'string') return new InputProblem(`${where}: ${headers}`)
      const rec: CliRecord = { key: bytesField(obj, 'key'), value: bytesField(obj, 'value', 'payload'), headers }
      if (obj.partition !== undefined && obj.partition !== null) {
        if (!Number.isInteger(obj.partition) || (obj.partition as number) < 0)
          return new InputProblem(`${where}: partition must be an integer ≥ 0`)
        rec.partition = obj.partition as number
      }
      const ts = obj.timestamp ?? obj.ts
      if (ts !== undefined && ts !== null) {
        if (!Number.isInteger(ts) || (ts as number) < 0)
          return new InputProblem(`${where}: timestamp must be ms since the epoch`)
        rec.timestamp = ts as number
      }
      if (typeof obj.topic === 'string') rec.topic = obj.topic
      return rec
    },
  }
}

/**
 * Length-prefixed frames: [int32 big-endian length][bytes], length -1 for null. `binary` has one frame per record
 * (the value); `binary-kv` two (key, then value).
 */
export function binaryReader(withKeys: boolean): RecordReader {
  const chunks: Buffer[] = []
  let head = 0 // read offset in chunks[0]
  let available = 0
  let ended = false
  let records = 0
  let offset = 0 // input bytes consumed, for messages

  const take = (n: number): Buffer => {
    if (n === 0) return Buffer.alloc(0) // the last frame may be empty with nothing left after it
    const first = chunks[0]!
    if (first.length - head >= n) {
      const out = first.subarray(head, head + n)
      head += n
      if (head === first.length) {
        chunks.shift()
        head = 0
      }
      available -= n
      return out
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const c = chunks[0]!
      const m = Math.min(n - filled, c.length - head)
      c.copy(out, filled, head, head + m)
      filled += m
      head += m
      if (head === c.length) {
        chunks.shift()
        head = 0
      }
    }
    available -= n
    return out
  }
  const peekLength = (at: number): number => {
    const b = Buffer.allocUnsafe(4)
    let k = 0
    let ci = 0
    let p = head + at
    while (k < 4) {
      const c = chunks[ci]!
      if (p >= c.length) {
        p -= c.length
        ci++
        continue
      }
      b[k++] = c[p++]!
    }
    return b.readInt32BE(0)
  }
  let broken = false // after a bad length nothing further can be framed: the rest of the input is ignored
  return {
    push(c) {
      if (c.length === 0 || broken) return
      chunks.push(asBuffer(c))
      available += c.length
    },
    end() {
      ended = true
    },
    next() {
      if (available === 0) return null
      const frames = withKeys ? 2 : 1
      let need = 0
      const lengths: number[] = []
      for (let f = 0; f < frames; f++) {
        if (available < need + 4) return ended ? truncated() : null
        const len = peekLength(need)
        if (len < -1 || len > MAX_RECORD_BYTES) {
          available = 0
          chunks.length = 0
          broken = true
          return new InputProblem(
            `record ${records + 1} (byte ${offset + need}): frame length ${len} is not in [-1, ${MAX_RECORD_BYTES}]: the rest of the input is ignored`,
          )
        }
        lengths.push(len)
        need += 4 + Math.max(0, len)
      }
      if (available < need) return ended ? truncated() : null
      const parts = lengths.map((len) => {
        take(4)
        return len < 0 ? null : take(len)
      })
      records++
      offset += need
      return withKeys ? { key: parts[0]!, value: parts[1]! } : { key: null, value: parts[0]! }
    },
  }
  function truncated(): InputProblem {
    const left = available
    available = 0
    chunks.length = 0
    return new InputProblem(
      `record ${records + 1} (byte ${offset}): input ends inside a frame (${left} bytes left over)`,
    )
  }
}

export function makeReader(format: InputFormat, delimiter: Uint8Array, keyDelimiter: Uint8Array | null): RecordReader {
  if (format === 'json') return jsonReader()
  if (format === 'binary') return binaryReader(false)
  if (format === 'binary-kv') return binaryReader(true)
  return lineReader(delimiter, keyDelimiter)
}
