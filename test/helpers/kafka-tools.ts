/// <reference types="node" />
// Node-only helpers for integration tests: create/delete topics on the test cluster (Kafka's own TopicCommand,
// through scripts/kafka.mjs) and read a topic back with kcat, byte-exact.
//
// Reader choice: `kcat -C -J` (JSON envelope). kcat writes each record on one line; inside JSON strings it escapes
// only `"`, `\` and control bytes < 0x20 (\uXXXX, \n, \t, ...) and copies every other byte raw, including invalid
// UTF-8. Decoding those strings at the byte level (below, not JSON.parse) therefore gives key, value AND header
// values byte-exact, and keeps null apart from empty for keys, values and header values. (kcat's `-f` mode is
// byte-exact for key/value via %K/%S lengths, but its %h prints `k=v,k2=v2` with NULL as the text "NULL", which is
// not exact for headers.) One residual limitation: header *names* and keys/values are exact only as bytes; a
// \uXXXX escape >= 0x80 never appears in kcat output, and if it did it is decoded as UTF-8.

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export interface KcatRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
}

export interface ReadOptions {
  /** librdkafka's default is read_committed (aborted transactional records hidden). */
  isolationLevel?: 'read_committed' | 'read_uncommitted'
  /** Extra kcat arguments, e.g. ['-X', 'security.protocol=SASL_PLAINTEXT', ...]. */
  extraArgs?: string[]
  /** Only this partition. */
  partition?: number
  /** Poll interval between kcat runs while fewer than expectedCount records are there (ms). */
  pollMs?: number
}

interface KafkaScript {
  createTopic(
    bootstrap: string | null | undefined,
    topic: string,
    partitions?: number,
    replication?: number,
    opts?: { configs?: Record<string, string | number>; ifNotExists?: boolean; timeoutMs?: number },
  ): Promise<void>
  deleteTopic(
    bootstrap: string | null | undefined,
    topic: string,
    opts?: { ifExists?: boolean; timeoutMs?: number },
  ): Promise<void>
}

const scriptPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/kafka.mjs')
let scriptModule: Promise<KafkaScript> | undefined
function kafkaScript(): Promise<KafkaScript> {
  // A computed specifier keeps TypeScript from looking for declarations of the plain-JS script.
  scriptModule ??= import(/* @vite-ignore */ scriptPath) as Promise<KafkaScript>
  return scriptModule
}

/**
 * Create a topic (Kafka's TopicCommand) and wait until every broker reports all partitions with a leader.
 * Extra topic configs, e.g. { 'min.insync.replicas': 3 }, go in `configs`.
 */
export async function createTopic(
  bootstrap: string,
  name: string,
  partitions: number,
  replication = 1,
  configs: Record<string, string | number> = {},
): Promise<void> {
  const k = await kafkaScript()
  await k.createTopic(bootstrap, name, partitions, replication, { configs })
}

/** Delete a topic and wait until no broker reports it. */
export async function deleteTopic(bootstrap: string, name: string): Promise<void> {
  const k = await kafkaScript()
  await k.deleteTopic(bootstrap, name, { ifExists: true })
}

/** A topic name unique to this process and call, safe for Kafka (letters, digits, . _ -). */
export function uniqueTopic(prefix = 'test'): string {
  uniqueCounter += 1
  return `${prefix.replace(/[^A-Za-z0-9._-]/g, '-')}-${process.pid}-${Date.now().toString(36)}-${uniqueCounter}`
}
let uniqueCounter = 0

/** kcat's fetch.wait.max.ms for reads to the end of a topic (-e): see readAllWithKcat. */
export const KCAT_FETCH_WAIT_MS = 10

function runKcat(args: string[], timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new Error(`cannot run kcat (apt-get install kcat): ${e.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(Buffer.concat(out))
      else
        reject(
          new Error(
            `kcat ${args.join(' ')} exited with ${code ?? signal}: ${Buffer.concat(err).toString('utf8').trim()}`,
          ),
        )
    })
  })
}

/**
 * Read every record of `topic` from the beginning with kcat (`-C -o beginning -e -J`), re-reading until at least
 * `expectedCount` records are there or `timeoutMs` has passed; then returns what it has (sorted by partition,
 * offset), so a test's length assertion shows the difference. Byte-exact keys, values and header values.
 */
export async function readAllWithKcat(
  bootstrap: string,
  topic: string,
  expectedCount: number,
  timeoutMs = 30_000,
  opts: ReadOptions = {},
): Promise<KcatRecord[]> {
  const deadline = Date.now() + timeoutMs
  const args = [
    '-C',
    '-b',
    bootstrap,
    '-t',
    topic,
    '-o',
    'beginning',
    '-e',
    '-q',
    '-J',
    '-X',
    `isolation.level=${opts.isolationLevel ?? 'read_committed'}`,
    // -e exits once a fetch at the end of every partition comes back empty; the broker holds such a fetch for
    // fetch.wait.max.ms (librdkafka's default 500 ms), so each read took >= 0.5 s. What is read is the same.
    '-X',
    `fetch.wait.max.ms=${KCAT_FETCH_WAIT_MS}`,
    ...(opts.partition !== undefined ? ['-p', String(opts.partition)] : []),
    ...(opts.extraArgs ?? []),
  ]
  let records: KcatRecord[] = []
  let lastError: unknown
  for (;;) {
    try {
      const out = await runKcat(args, Math.max(5_000, deadline - Date.now()))
      records = parseKcatJson(out)
      lastError = undefined
    } catch (e) {
      lastError = e // e.g. topic metadata not there yet: retry until the deadline
    }
    if (records.length >= expectedCount || Date.now() >= deadline) break
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200))
  }
  if (lastError && records.length < expectedCount) throw lastError
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}

/** Parse kcat `-J` output (one JSON object per line) at the byte level. Exported for the self-test. */
export function parseKcatJson(buf: Uint8Array): KcatRecord[] {
  const records: KcatRecord[] = []
  let start = 0
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length || buf[i] === 0x0a) {
      if (i > start) {
        const obj = new ByteJson(buf.subarray(start, i)).document() as Record<string, Json>
        records.push(toRecord(obj))
      }
      start = i + 1
    }
  }
  return records
}

type Json = null | boolean | number | Uint8Array | Json[] | { [k: string]: Json }

const text = new TextDecoder('utf-8', { fatal: false })

function toRecord(o: Record<string, Json>): KcatRecord {
  const bytesOrNull = (v: Json | undefined): Uint8Array | null => (v instanceof Uint8Array ? v : null)
  const hdr = Array.isArray(o.headers) ? o.headers : []
  const headers: Array<[string, Uint8Array | null]> = []
  for (let i = 0; i + 1 < hdr.length; i += 2) {
    headers.push([text.decode(hdr[i] as Uint8Array), bytesOrNull(hdr[i + 1])])
  }
  return {
    topic: o.topic instanceof Uint8Array ? text.decode(o.topic) : '',
    partition: o.partition as number,
    offset: o.offset as number,
    timestamp: typeof o.ts === 'number' ? o.ts : -1,
    key: bytesOrNull(o.key),
    value: bytesOrNull(o.payload),
    headers,
  }
}

/** Minimal JSON reader over bytes: strings come back as the exact bytes between the quotes (escapes resolved). */
class ByteJson {
  private i = 0
  constructor(private readonly b: Uint8Array) {}

  document(): Json {
    const v = this.value()
    this.ws()
    if (this.i !== this.b.length) this.fail('trailing data')
    return v
  }

  private fail(msg: string): never {
    throw new Error(
      `kcat JSON: ${msg} at byte ${this.i}: ${text.decode(this.b.subarray(Math.max(0, this.i - 20), this.i + 20))}`,
    )
  }

  private ws(): void {
    while (this.i < this.b.length && (this.b[this.i] === 0x20 || this.b[this.i] === 0x09 || this.b[this.i] === 0x0d))
      this.i++
  }

  private lit(word: string, v: Json): Json {
    for (let k = 0; k < word.length; k++) if (this.b[this.i + k] !== word.charCodeAt(k)) this.fail(`expected ${word}`)
    this.i += word.length
    return v
  }

  private value(): Json {
    this.ws()
    const c = this.b[this.i]
    if (c === 0x7b) return this.object()
    if (c === 0x5b) return this.array()
    if (c === 0x22) return this.string()
    if (c === 0x6e) return this.lit('null', null)
    if (c === 0x74) return this.lit('true', true)
    if (c === 0x66) return this.lit('false', false)
    return this.number()
  }

  private object(): Record<string, Json> {
    const o: Record<string, Json> = {}
    this.i++
    this.ws()
    if (this.b[this.i] === 0x7d) {
      this.i++
      return o
    }
    for (;;) {
      this.ws()
      if (this.b[this.i] !== 0x22) this.fail('expected key')
      const k = text.decode(this.string())
      this.ws()
      if (this.b[this.i++] !== 0x3a) this.fail('expected :')
      o[k] = this.value()
      this.ws()
      const c = this.b[this.i++]
      if (c === 0x7d) return o
      if (c !== 0x2c) this.fail('expected , or }')
    }
  }

  private array(): Json[] {
    const a: Json[] = []
    this.i++
    this.ws()
    if (this.b[this.i] === 0x5d) {
      this.i++
      return a
    }
    for (;;) {
      a.push(this.value())
      this.ws()
      const c = this.b[this.i++]
      if (c === 0x5d) return a
      if (c !== 0x2c) this.fail('expected , or ]')
    }
  }

  private number(): number {
    const s = this.i
    while (this.i < this.b.length && /[-+0-9.eE]/.test(String.fromCharCode(this.b[this.i]!))) this.i++
    if (s === this.i) this.fail('unexpected byte')
    return Number(text.decode(this.b.subarray(s, this.i)))
  }

  private string(): Uint8Array {
    this.i++ // opening quote
    const out: number[] = []
    for (;;) {
      if (this.i >= this.b.length) this.fail('unterminated string')
      const c = this.b[this.i++]!
      if (c === 0x22) return Uint8Array.from(out)
      if (c !== 0x5c) {
        out.push(c)
        continue
      }
      const e = this.b[this.i++]
      switch (e) {
        case 0x22:
          out.push(0x22)
          break // \"
        case 0x5c:
          out.push(0x5c)
          break // \\
        case 0x2f:
          out.push(0x2f)
          break // \/
        case 0x62:
          out.push(0x08)
          break // \b
        case 0x66:
          out.push(0x0c)
          break // \f
        case 0x6e:
          out.push(0x0a)
          break // \n
        case 0x72:
          out.push(0x0d)
          break // \r
        case 0x74:
          out.push(0x09)
          break // \t
        case 0x75: {
          // \uXXXX: kcat uses it for control bytes only; anything else is taken as a code point (UTF-8 encoded).
          const cp = parseInt(text.decode(this.b.subarray(this.i, this.i + 4)), 16)
          if (Number.isNaN(cp)) this.fail('bad \\u escape')
          this.i += 4
          if (cp < 0x80) out.push(cp)
          else out.push(...new TextEncoder().encode(String.fromCharCode(cp)))
          break
        }
        default:
          this.fail('bad escape')
      }
    }
  }
}
