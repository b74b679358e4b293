/// <reference types="node" />
// gzip, snappy, lz4 and zstd against the real broker, read back by readers that share no code with isokafka:
// - one topic (compression.type=producer, the broker keeps what producers send) with a partition per codec: kcat
//   (librdkafka) reads every record byte-exact, Java's ConsoleConsumer reads them all, and DumpLogSegments prints
//   `compresscodec: <codec>` for every batch of the partition and decompresses every record (--print-data-log);
// - a topic per codec with compression.type=<codec>: the broker takes the producer's batches as they are (it would
//   reject batches it cannot read), kcat reads them byte-exact, including incompressible and null values.
// One broker session, three Java tool runs (~2 s each).
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProducer } from '../../src/index.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { createTopic, readAllWithKcat, uniqueTopic, type KcatRecord } from '../helpers/kafka-tools.js'
import { xorshift32 } from '../helpers/xorshift.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bootstrap = inject('kafkaBootstrap')
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const
type Codec = (typeof CODECS)[number]
const enc = new TextEncoder()
const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'))

interface Sent {
  partition: number
  offset: number
  key: string | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
}

/** JSON events of 200–1,000 bytes, a 100 KB one (several lz4/snappy blocks), and headers. */
function textRecords(
  codec: Codec,
): Array<{ key: string; value: Uint8Array; headers: Array<[string, Uint8Array | null]> }> {
  const r = xorshift32(CODECS.indexOf(codec) + 1)
  const int = (n: number) => Math.floor(r() * n)
  const out = []
  for (let i = 0; i < 400; i++) {
    const value = JSON.stringify({
      id: `${codec}-${i}`,
      user: `user-${int(5000)}`,
      type: ['click', 'view', 'purchase'][int(3)],
      ts: 1_700_000_000_000 + i,
      amount: int(100000) / 100,
      note: 'lorem ipsum dolor sit amet '.repeat(5 + int(30)),
    })
    out.push({
      key: `k-${i}`,
      value: enc.encode(value),
      headers:
        i % 10 === 0
          ? ([
              ['trace', enc.encode(`t${i}`)],
              ['none', null],
            ] as Array<[string, Uint8Array | null]>)
          : [],
    })
  }
  out.push({
    key: 'big',
    value: enc.encode(JSON.stringify({ rows: Array.from({ length: 1500 }, (_, i) => ({ i, v: `value ${i % 97}` })) })),
    headers: [],
  })
  return out
}

async function produce(
  codec: Codec,
  topic: string,
  records: Array<{ key: string | null; value: Uint8Array | null; headers: Array<[string, Uint8Array | null]> }>,
  partition?: number,
): Promise<Sent[]> {
  const producer = createProducer({
    transport: tcp({ bootstrap }),
    compression: codec,
    lingerMs: 20,
    batchSize: 64 * 1024,
    maxRequestSize: 4 << 20,
  })
  try {
    const metas = await Promise.all(
      records.map((rec) => producer.send({ topic, partition, key: rec.key, value: rec.value, headers: rec.headers })),
    )
    return metas.map((m, i) => ({ partition: m.partition, offset: m.offset, ...records[i]! }))
  } finally {
    await producer.close()
  }
}

function expectExact(read: KcatRecord[], sent: Sent[]): void {
  expect(read.length).toBe(sent.length)
  const at = new Map(read.map((r) => [`${r.partition}:${r.offset}`, r]))
  for (const s of sent) {
    const r = at.get(`${s.partition}:${s.offset}`)
    expect(r, `${s.partition}:${s.offset}`).toBeDefined()
    expect(
      { key: hex(r!.key), value: hex(r!.value), headers: r!.headers.map(([k, v]) => [k, hex(v)]) },
      `${s.partition}:${s.offset}`,
    ).toEqual({
      key: s.key === null ? null : hex(enc.encode(s.key)),
      value: hex(s.value),
      headers: s.headers.map(([k, v]) => [k, hex(v)]),
    })
  }
}

interface KafkaScript {
  ensureKafkaJars(): Promise<{ libs: string }>
  cacheRoot(): string
}
let kafka: KafkaScript

/** Runs a Kafka tool class from the broker's jars; resolves with its stdout. */
async function javaTool(cls: string, args: string[]): Promise<string> {
  const { libs } = await kafka.ensureKafkaJars()
  const jvm = [
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j2.configurationFile=${path.join(kafka.cacheRoot(), 'log4j2-tools.properties')}`,
  ]
  return new Promise((resolve, reject) => {
    const p = spawn(process.env.JAVA || 'java', [...jvm, '-cp', path.join(libs, '*'), cls, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    let err = ''
    p.stdout!.on('data', (d: Buffer) => out.push(d))
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', reject)
    p.on('exit', (code) =>
      code === 0
        ? resolve(Buffer.concat(out).toString('utf8'))
        : reject(new Error(`${cls} exited with ${code}: ${err.slice(-2000)}`)),
    )
  })
}

/** The log directory of the (local, scripts/kafka.mjs) broker behind `bootstrap`, or null for another cluster. */
function logDir(): string | null {
  const stateRoot = path.join(process.env.TMPDIR || '/tmp', 'isokafka-kafka') // as scripts/kafka.mjs stateRoot()
  const states = existsSync(stateRoot) ? readdirSync(stateRoot) : []
  for (const name of states) {
    const file = path.join(stateRoot, name, 'state.json')
    if (!existsSync(file)) continue
    const state = JSON.parse(readFileSync(file, 'utf8')) as { bootstrap?: string; nodes?: Array<{ dataDir: string }> }
    if (state.bootstrap === bootstrap && state.nodes?.length === 1) return state.nodes[0]!.dataDir
  }
  return null
}

const mixed = uniqueTopic('codecs-mixed')
const perCodec = Object.fromEntries(CODECS.map((c) => [c, uniqueTopic(`codecs-${c}`)])) as Record<Codec, string>
const sentMixed = new Map<Codec, Sent[]>()

beforeAll(async () => {
  kafka = (await import(/* @vite-ignore */ path.join(root, 'scripts/kafka.mjs'))) as KafkaScript
  await Promise.all([
    createTopic(bootstrap, mixed, CODECS.length, 1, { 'compression.type': 'producer' }),
    ...CODECS.map((c) => createTopic(bootstrap, perCodec[c], 1, 1, { 'compression.type': c })),
  ])
  // one partition per codec, so every batch of a partition has that codec
  await Promise.all(CODECS.map(async (c, i) => sentMixed.set(c, await produce(c, mixed, textRecords(c), i))))
})

describe('compression codecs on the real broker', () => {
  it('kcat reads every record of each codec byte-exact', async () => {
    const all = CODECS.flatMap((c) => sentMixed.get(c)!)
    expectExact(await readAllWithKcat(bootstrap, mixed, all.length, 30_000), all)
  })

  it.each(CODECS)(
    'a topic with compression.type=%s takes the batches as they are; kcat reads them byte-exact',
    async (codec) => {
      const r = xorshift32(99)
      const records = [
        ...textRecords(codec).slice(0, 150),
        { key: null, value: null, headers: [] },
        { key: '', value: new Uint8Array(0), headers: [] },
        // incompressible: stored lz4 blocks, literal-only snappy chunks, raw zstd blocks
        ...Array.from({ length: 3 }, (_, i) => ({
          key: `random-${i}`,
          value: Uint8Array.from({ length: 70_000 }, () => Math.floor(r() * 256)),
          headers: [] as Array<[string, Uint8Array | null]>,
        })),
      ]
      const sent = await produce(codec, perCodec[codec], records)
      expectExact(await readAllWithKcat(bootstrap, perCodec[codec], sent.length, 30_000), sent)
    },
  )

  it("Java's ConsoleConsumer reads every record of each codec", async () => {
    const all = CODECS.flatMap((c) => sentMixed.get(c)!)
    const out = await javaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      mixed,
      '--from-beginning',
      '--max-messages',
      String(all.length),
      '--timeout-ms',
      '30000',
      '--property',
      'print.partition=true',
      '--property',
      'print.offset=true',
      '--property',
      'print.key=true',
    ])
    const lines = new Map(
      out
        .split('\n')
        .filter((l) => l.startsWith('Partition:'))
        .map((l) => {
          const [p, o, key, ...value] = l.split('\t')
          return [`${p!.slice('Partition:'.length)}:${o!.slice('Offset:'.length)}`, `${key}\t${value.join('\t')}`]
        }),
    )
    expect(lines.size).toBe(all.length)
    for (const s of all)
      expect(lines.get(`${s.partition}:${s.offset}`), `${s.partition}:${s.offset}`).toBe(
        `${s.key}\t${new TextDecoder().decode(s.value!)}`,
      )
  })

  it.skipIf(logDir() === null && !process.env.CI)(
    "the broker's log holds each partition's batches with its codec; DumpLogSegments decompresses every record",
    async () => {
      const dir = logDir()
      expect(dir, 'the test broker is a scripts/kafka.mjs cluster').not.toBeNull()
      const files = CODECS.map((_, i) => {
        const d = path.join(dir!, `${mixed}-${i}`)
        return path.join(
          d,
          readdirSync(d)
            .filter((f) => f.endsWith('.log'))
            .sort()[0]!,
        )
      })
      const out = await javaTool('org.apache.kafka.tools.DumpLogSegments', [
        '--print-data-log',
        '--files',
        files.join(','),
      ])
      const sections = out.split(/^Dumping /m).slice(1)
      expect(sections.length).toBe(CODECS.length)
      for (const [i, codec] of CODECS.entries()) {
        const section = sections.find((s) => s.startsWith(files[i]!))!
        const batches = [...section.matchAll(/compresscodec: (\w+)/g)].map((m) => m[1])
        expect(batches.length, codec).toBeGreaterThan(1)
        expect(new Set(batches), codec).toEqual(new Set([codec]))
        // --print-data-log lists every record, decompressed, with its payload
        const records = [...section.matchAll(/\| offset: (\d+) .*? key: (\S+) payload: (.*)$/gm)]
        expect(records.length, codec).toBe(sentMixed.get(codec)!.length)
        expect(records.at(-1)![3]!.startsWith('{"rows":[{"i":0,'), codec).toBe(true)
      }
    },
  )
})
