/// <reference types="node" />
// `isokafka produce`, `perf` and `topics` end to end against the test run's broker, every record read back by kcat and
// compared byte for byte with the input. The commands run in this process through adapters/cli's runCommand (as the
// bin runs them); the bin's own dispatch runs as a child process from a temporary folder beside adapters/cli bundled
// to dist/cli.js as tsup builds it, so the test needs no `npm run build` and does not race one.
import { spawn } from 'node:child_process'
import { Readable, Writable } from 'node:stream'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { build } from 'esbuild'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { runCommand } from '../../adapters/cli/index.js'
import { murmur2Partition } from '../../src/producer/murmur2.js'
import { readAllWithKcat, uniqueTopic, type KcatRecord } from '../helpers/kafka-tools.js'
import { xorshift32 } from '../helpers/xorshift.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
let bin = ''
const bootstrap: string = inject('kafkaBootstrap') ?? process.env.KAFKA_BOOTSTRAP ?? ''
const enc = new TextEncoder()
let dir = ''
// Topics made once, by `isokafka topics create` (checked below against kcat -L; Kafka's TopicCommand would start a JVM
// per topic), 3 partitions each: lines, json, misc (one partition per case: 0 binary, 1 errors, 2 SASL/TLS), perf
const topics = {
  lines: uniqueTopic('cli-lines'),
  json: uniqueTopic('cli-json'),
  misc: uniqueTopic('cli-misc'),
  perf: uniqueTopic('cli-perf'),
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

const COMMANDS = new Set(['produce', 'perf', 'topics'])

/**
 * produce / perf / topics run in this process through runCommand (what the bin calls after loading dist/cli.js), so
 * coverage sees them; anything else (the bin's own dispatch: --help, token) runs the bin as a child process.
 */
async function cli(args: string[], input?: Uint8Array | string, env: Record<string, string> = {}): Promise<Run> {
  if (!COMMANDS.has(args[0]!)) return spawnCli(args, input, env)
  let stdout = ''
  let stderr = ''
  const sink = (append: (s: string) => void) =>
    new Writable({ write: (chunk, _enc, done) => (append(String(chunk)), done()) })
  const code = await runCommand(args[0] as 'produce' | 'perf' | 'topics', {
    argv: args.slice(1),
    env: { ...process.env, ...env },
    stdin: Readable.from(input === undefined ? [] : [Buffer.from(input)]),
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
  })
  return { code, stdout, stderr }
}

function spawnCli(args: string[], input?: Uint8Array | string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.on('error', () => {}) // the command may stop reading early (an unknown topic)
    child.stdin.end(input ?? '')
  })
}

/**
 * kcat -C with a length-prefixed format (`%K`/`%S`: key/value length, -1 for null, then the bytes): byte-exact keys
 * and values like readAllWithKcat's -J reader, about ten times faster to parse for 100k records. Headers come as kcat's
 * %h text (`name=value,...`, a null value as NULL); the --json case checks null against empty header values exactly.
 */
async function readFramedWithKcat(
  topic: string,
  expected: number,
): Promise<Array<{ partition: number; offset: number; key: Buffer | null; value: Buffer | null; headers: string }>> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const out = await new Promise<Buffer>((resolve, reject) => {
      const child = spawn('kcat', [
        '-C',
        '-b',
        bootstrap,
        '-t',
        topic,
        '-o',
        'beginning',
        '-e',
        '-q',
        '-X',
        'fetch.wait.max.ms=10',
        '-f',
        '%p %o %K %S %h\x01%k%s\n',
      ])
      const chunks: Buffer[] = []
      child.stdout.on('data', (d: Buffer) => chunks.push(d))
      child.on('error', reject)
      child.on('close', () => resolve(Buffer.concat(chunks)))
    })
    const records = []
    let at = 0
    while (at < out.length) {
      const sep = out.indexOf(1, at)
      const [p, o, k, v, ...h] = out.toString('latin1', at, sep).split(' ')
      let pos = sep + 1
      const take = (n: number) => (n < 0 ? null : out.subarray(pos, (pos += n)))
      const key = take(Number(k))
      const value = take(Number(v))
      if (out[pos] !== 0x0a) throw new Error(`kcat output out of step at byte ${pos}`)
      at = pos + 1
      records.push({ partition: Number(p), offset: Number(o), key, value, headers: h.join(' ') })
    }
    if (records.length >= expected || Date.now() > deadline)
      return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'))
const utf8 = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('utf8'))

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'isokafka-cli-test-'))
  mkdirSync(path.join(dir, 'bin'))
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'))
  bin = path.join(dir, 'bin', 'isokafka.mjs')
  copyFileSync(path.join(root, 'bin', 'isokafka.mjs'), bin)
  await build({
    entryPoints: [path.join(root, 'adapters/cli/index.ts')],
    outfile: path.join(dir, 'dist', 'cli.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    logLevel: 'silent',
  })
  const created = await cli([
    'topics',
    'create',
    ...Object.values(topics),
    '--partitions',
    '3',
    '--replication-factor',
    '1',
    '-b',
    bootstrap,
  ])
  if (created.code !== 0) throw new Error(`isokafka topics create failed: ${created.stderr}`)
})
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('isokafka --help', () => {
  // (isokafka gateway --help: test/gateway/cli.test.ts)
  it('every command prints its help and exits 0; bad flags exit 2', async () => {
    const top = await cli(['--help'])
    expect(top.code).toBe(0)
    expect(top.stdout).toMatch(/isokafka produce/)
    const token = await cli(['token', '--help'])
    expect([token.code, token.stdout]).toEqual([0, expect.stringMatching(/usage: isokafka token/)])
    const topicsHelp = await cli(['topics', '--help'])
    expect([topicsHelp.code, topicsHelp.stdout]).toEqual([
      0,
      expect.stringMatching(/create TOPIC[\s\S]*--replication-factor/),
    ])
    const produce = await cli(['produce', '--help'])
    expect([produce.code, produce.stdout]).toEqual([
      0,
      expect.stringMatching(/--key-delimiter[\s\S]*--binary-kv[\s\S]*--sasl-mechanism/),
    ])
    const perf = await cli(['perf', '--help'])
    expect([perf.code, perf.stdout]).toEqual([
      0,
      expect.stringMatching(/--num-records[\s\S]*--producer-props[\s\S]*99\.9th/),
    ])
    const bad = await cli(['produce', '-b', bootstrap, '-t', 'x', '--no-such-flag'])
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/no-such-flag/)])
    const codec = await cli(['produce', '-b', bootstrap, '-t', 'x', '-z', 'no-such-codec'])
    expect([codec.code, codec.stderr]).toEqual([2, expect.stringMatching(/compression "no-such-codec"/)])
  })
})

describe('isokafka produce', () => {
  it('a 100k-line file with -k and -H: every record read back by kcat byte-exact, in order per partition', async () => {
    const topic = topics.lines
    const rnd = xorshift32(1234)
    // every value starts with its line number (fixed width), so each record read back maps to its input line; the
    // file is written straight into one buffer (building 100k small arrays took seconds on a busy machine)
    type Line = { key: Uint8Array | null; value: Uint8Array }
    const lines: Line[] = []
    const N = 100_000
    const buf = Buffer.alloc(N * 64)
    let at = 0
    const text = (t: string) => (at += buf.write(t, at, 'latin1'))
    for (let i = 0; i < N; i++) {
      const id = String(i).padStart(6, '0')
      const lineStart = at
      let valueStart: number
      let key: Uint8Array | null = null
      if (i % 97 === 5) {
        valueStart = at // no key delimiter: the whole line is the value, the key null
        text(`n${id}`)
      } else {
        text(`key-${Math.floor(rnd() * 300)}`)
        key = buf.subarray(lineStart, at)
        text(':')
        valueStart = at
        text(`${id}:`)
      }
      for (let n = Math.floor(rnd() * 24); n > 0; ) {
        const b = Math.floor(rnd() * 256)
        if (b === 0x0a || b === 0x3a) continue // no \n, no ':' in the noise
        buf[at++] = b
        n--
      }
      if (key !== null && i % 3 === 0) text(':more') // a later ':' stays in the value
      lines.push({ key, value: buf.subarray(valueStart, at) })
      if (i < N - 1) text(i % 1000 === 7 ? '\n\n' : '\n') // empty lines are skipped, as kcat does; the last line has no newline
    }
    const file = path.join(dir, 'lines.txt')
    writeFileSync(file, buf.subarray(0, at))

    const t0 = performance.now()
    const run = await cli([
      'produce',
      '-b',
      bootstrap,
      '-t',
      topic,
      '-k',
      ':',
      '-H',
      'source=cli-test',
      '-H',
      'empty=',
      '-H',
      'nullvalue',
      file,
    ])
    const ms = performance.now() - t0
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(new RegExp(`isokafka produce: ${N} records \\(.*\\) acknowledged in .*; 0 failed`))
    process.stderr.write(`[cli.test] produce of ${N} lines: ${ms.toFixed(0)} ms (${run.stderr.trim()})\n`)

    const read = await readFramedWithKcat(topic, N)
    expect(read).toHaveLength(N)
    const seen = new Array<boolean>(N).fill(false)
    const lastIndex = [-1, -1, -1]
    const mismatches: string[] = []
    for (const r of read) {
      const text = Buffer.from(r.value!).toString('latin1')
      const i = Number(r.key === null ? text.slice(1, 7) : text.slice(0, 6))
      const want = lines[i]
      if (!want || seen[i]) {
        mismatches.push(`unexpected or duplicate record ${text.slice(0, 12)} at ${r.partition}/${r.offset}`)
        continue
      }
      seen[i] = true
      if (hex(r.key) !== hex(want.key) || hex(r.value) !== hex(want.value))
        mismatches.push(`line ${i}: key/value differ`)
      if (r.headers !== 'source=cli-test,empty=,nullvalue=NULL') {
        mismatches.push(`line ${i}: headers ${JSON.stringify(r.headers)}`)
      }
      // keyed records go where Java's default partitioner puts them; every partition keeps the input order
      if (want.key !== null && r.partition !== murmur2Partition(want.key, 3))
        mismatches.push(`line ${i}: partition ${r.partition}`)
      if (i <= lastIndex[r.partition]!)
        mismatches.push(`line ${i} after line ${lastIndex[r.partition]} in partition ${r.partition}`)
      lastIndex[r.partition] = i
      if (mismatches.length > 10) break
    }
    expect(mismatches).toEqual([])
    expect(seen.every(Boolean)).toBe(true)
  })

  it('--json: key, value, base64, headers (object, pairs, kcat flat form), partition, timestamp, null value', async () => {
    const topic = topics.json
    const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    const input = [
      { key: 'a', value: 'v1 ✓', headers: { h1: 'x', h2: null }, partition: 1, timestamp: 1700000000123 },
      { key: null, valueBase64: Buffer.from(allBytes).toString('base64'), partition: 0, timestamp: 1700000000456 },
      {
        keyBase64: 'AAE=',
        value: { nested: [1, 2] },
        headers: [
          ['a', '1'],
          ['a', '2'],
        ],
        partition: 2,
      },
      { payload: 'kcat-shaped', ts: 1600000000000, headers: ['k', 'v'], partition: 0, topic: 'not-this-one' },
      { key: 'tombstone', value: null, partition: 1, timestamp: 1700000000789 },
    ]
    const run = await cli(
      ['produce', '-b', bootstrap, '-t', topic, '--json', '-H', 'via=json'],
      input.map((o) => JSON.stringify(o)).join('\n') + '\n',
    )
    expect(run.code, run.stderr).toBe(0)
    const read = await readAllWithKcat(bootstrap, topic, 5)
    const got = read.map((r) => ({
      p: r.partition,
      ts: r.timestamp,
      key: hex(r.key),
      value: hex(r.value),
      headers: r.headers.map(([k, v]) => [k, utf8(v)]),
    }))
    const h = (s: string) => Buffer.from(s).toString('hex')
    expect(got).toEqual([
      { p: 0, ts: 1700000000456, key: null, value: Buffer.from(allBytes).toString('hex'), headers: [['via', 'json']] },
      {
        p: 0,
        ts: 1600000000000,
        key: null,
        value: h('kcat-shaped'),
        headers: [
          ['via', 'json'],
          ['k', 'v'],
        ],
      },
      {
        p: 1,
        ts: 1700000000123,
        key: h('a'),
        value: h('v1 ✓'),
        headers: [
          ['via', 'json'],
          ['h1', 'x'],
          ['h2', null],
        ],
      },
      { p: 1, ts: 1700000000789, key: h('tombstone'), value: null, headers: [['via', 'json']] },
      {
        p: 2,
        ts: expect.any(Number),
        key: '0001',
        value: h('{"nested":[1,2]}'),
        headers: [
          ['via', 'json'],
          ['a', '1'],
          ['a', '2'],
        ],
      },
    ])
  })

  it('--binary-kv and --binary: length-prefixed frames byte-exact; a truncated frame fails with INVALID_INPUT', async () => {
    const topic = topics.misc
    const rnd = xorshift32(99)
    const frame = (b: Uint8Array | null) => {
      const len = Buffer.alloc(4)
      len.writeInt32BE(b === null ? -1 : b.length)
      return b === null ? len : Buffer.concat([len, b])
    }
    const records: Array<[Uint8Array | null, Uint8Array | null]> = [
      [null, enc.encode('line\nbreaks\ninside')],
      [new Uint8Array(0), null],
      ...Array.from({ length: 60 }, (_, i): [Uint8Array, Uint8Array] => [
        Uint8Array.from({ length: 1 + (i % 7) }, () => Math.floor(rnd() * 256)),
        Uint8Array.from({ length: Math.floor(rnd() * 9000) }, () => Math.floor(rnd() * 256)),
      ]),
    ]
    const kv = await cli(
      ['produce', '-b', bootstrap, '-t', topic, '-p', '0', '--binary-kv'],
      Buffer.concat(records.flatMap(([k, v]) => [frame(k), frame(v)])),
    )
    expect(kv.code, kv.stderr).toBe(0)
    // values only, then a frame that says 100 bytes and has 3
    const values = [enc.encode('first'), null, enc.encode('third')]
    const truncated = Buffer.concat([...values.map(frame), Buffer.from([0, 0, 0, 100, 1, 2, 3])])
    const v = await cli(['produce', '-b', bootstrap, '-t', topic, '-p', '0', '--binary'], truncated)
    expect(v.code).toBe(1)
    expect(v.stderr).toMatch(/3 records .* acknowledged .*; 1 failed/)
    expect(v.stderr).toMatch(/failed INVALID_INPUT: 1 \(first: stdin: record 4 \(byte 22\): input ends inside a frame/)
    const read = await readAllWithKcat(bootstrap, topic, records.length + 3, 30_000, { partition: 0 })
    expect(read.map((r) => [hex(r.key), hex(r.value)])).toEqual(
      [...records, ...values.map((x) => [null, x])].map(([k, x]) => [hex(k), hex(x)]),
    )
  })

  it('failures: a record over max.request.size fails alone (exit 1, summary by code), or aborts a transactional input; an unknown topic and a refused connection fail fast', async () => {
    const topic = topics.misc
    const big = 'X'.repeat(1_100_000)
    const run = await cli(
      ['produce', '-b', bootstrap, '-t', topic, '-p', '1', '--linger', '20'],
      `before\n${big}\nafter\n`,
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /isokafka produce: 2 records \(11 B\) acknowledged in .*; 1 failed\n  failed RECORD_TOO_LARGE: 1 \(first: /,
    )
    // transactional.id: the input is one transaction, committed when all went through, aborted when one failed
    const tx = ['-b', bootstrap, '-t', topic, '-p', '1', '-X', 'transactional.id=cli-test-tx']
    const ok = await cli(['produce', ...tx], 'tx-ok-1\ntx-ok-2\n')
    expect(ok.code, ok.stderr).toBe(0)
    const failed = await cli(['produce', ...tx], `tx-lost-1\n${big}\ntx-lost-2\n`)
    expect([failed.code, failed.stderr]).toEqual([
      1,
      expect.stringMatching(/failed RECORD_TOO_LARGE: 1[\s\S]*transaction aborted/),
    ])
    const committed = await readAllWithKcat(bootstrap, topic, 4, 30_000, { partition: 1 })
    expect(committed.map((r) => utf8(r.value))).toEqual(['before', 'after', 'tx-ok-1', 'tx-ok-2'])
    const all = await readAllWithKcat(bootstrap, topic, 6, 30_000, { partition: 1, isolationLevel: 'read_uncommitted' })
    expect(all.map((r) => utf8(r.value))).toEqual(['before', 'after', 'tx-ok-1', 'tx-ok-2', 'tx-lost-1', 'tx-lost-2'])

    const t0 = performance.now()
    const unknown = await cli(['produce', '-b', bootstrap, '-t', uniqueTopic('cli-missing')], 'x\ny\n')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(
      /0 records .*; 1 failed\n  failed UNKNOWN_TOPIC_OR_PARTITION: 1 \(first: topic cli-missing-.*does not exist/,
    )
    expect(performance.now() - t0).toBeLessThan(10_000) // not maxBlockMs (60 s)
    const t1 = performance.now()
    const refused = await cli(['produce', '-b', '127.0.0.1:1', '-t', topic], 'x\n')
    expect([refused.code, refused.stderr]).toEqual([
      1,
      expect.stringMatching(/failed CONNECTION_ERROR: 1 \(first: could not connect to 127\.0\.0\.1:1/),
    ])
    expect(performance.now() - t1).toBeLessThan(10_000)
  })

  it('SASL (SCRAM-SHA-256, password from the environment) and TLS (--ca) listeners', async () => {
    const sasl = process.env.KAFKA_SASL_BOOTSTRAP
    const tlsBootstrap = process.env.KAFKA_TLS_BOOTSTRAP
    const ca = process.env.KAFKA_TLS_CA
    if (!sasl || !tlsBootstrap || !ca) return // a KAFKA_BOOTSTRAP given from outside may have neither listener
    const topic = topics.misc
    const s = await cli(
      ['produce', '-b', sasl, '-t', topic, '-p', '2', '--sasl-mechanism', 'scram-sha-256', '--sasl-username', 'alice'],
      'over-sasl\n',
      { KAFKA_SASL_PASSWORD: 'alice-secret' },
    )
    expect(s.code, s.stderr).toBe(0)
    const t = await cli(['produce', '-b', tlsBootstrap, '-t', topic, '-p', '2', '--ca', ca], 'over-tls\n')
    expect(t.code, t.stderr).toBe(0)
    const wrong = await cli(
      ['produce', '-b', sasl, '-t', topic, '--sasl-mechanism', 'plain', '--sasl-username', 'alice'],
      'no\n',
      { KAFKA_SASL_PASSWORD: 'wrong' },
    )
    expect([wrong.code, wrong.stderr]).toEqual([1, expect.stringMatching(/failed AUTHENTICATION_FAILED/)])
    const read = await readAllWithKcat(bootstrap, topic, 2, 30_000, { partition: 2 })
    expect(read.map((r) => utf8(r.value))).toEqual(['over-sasl', 'over-tls'])
  })
})

describe('isokafka topics', () => {
  it('create made the topics kcat sees; list, describe; existing and unknown topics', async () => {
    // kcat -L (librdkafka's metadata) as the independent view of what create made
    const meta = await new Promise<string>((resolve, reject) => {
      const child = spawn('kcat', ['-L', '-b', bootstrap, '-t', topics.misc])
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('error', reject)
      child.on('close', () => resolve(out))
    })
    expect(meta).toContain(`topic "${topics.misc}" with 3 partitions`)
    const list = await cli(['topics', 'list', '-b', bootstrap])
    expect(list.code).toBe(0)
    expect(list.stdout.split('\n')).toEqual(expect.arrayContaining(Object.values(topics)))
    const described = await cli(['topics', 'describe', topics.misc, '-b', bootstrap])
    expect([described.code, described.stdout.trim().split('\n')]).toEqual([
      0,
      [
        `Topic: ${topics.misc}\tPartitionCount: 3\tReplicationFactor: 1`,
        ...[0, 1, 2].map((p) =>
          expect.stringMatching(
            new RegExp(`^\tTopic: ${topics.misc}\tPartition: ${p}\tLeader: \\d+\tReplicas: \\d+\tIsr: \\d+$`),
          ),
        ),
      ],
    ])
    const again = await cli(['topics', 'create', topics.misc, '-b', bootstrap])
    expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/TOPIC_ALREADY_EXISTS/)])
    expect((await cli(['topics', 'create', topics.misc, '--if-not-exists', '-b', bootstrap])).code).toBe(0)
    const missing = uniqueTopic('cli-never')
    const unknown = await cli(['topics', 'describe', missing, '-b', bootstrap])
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringMatching(/UNKNOWN_TOPIC_OR_PARTITION/)])
    const dry = await cli(['topics', 'create', missing, '--validate-only', '--partitions', '2', '-b', bootstrap])
    expect([dry.code, dry.stdout]).toEqual([0, expect.stringMatching(/Would create topic/)])
    expect((await cli(['topics', 'list', '-b', bootstrap])).stdout.split('\n')).not.toContain(missing)
  })
})

describe('isokafka perf', () => {
  // Java's ProducerPerformance format strings (Stats.printWindow / printTotal)
  const WINDOW =
    /^(\d+) records sent, (\d+\.\d) records\/sec \((\d+\.\d\d) MB\/sec\), (\d+\.\d) ms avg latency, (\d+\.\d) ms max latency\.$/
  const TOTAL =
    /^(\d+) records sent, (\d+\.\d{6}) records\/sec \((\d+\.\d\d) MB\/sec\), (\d+\.\d\d) ms avg latency, (\d+\.\d\d) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$/

  it('prints window and total lines in Java’s format; the records are in Kafka', async () => {
    const topic = topics.perf
    const N = 3000
    const run = await cli([
      'perf',
      '--topic',
      topic,
      '--num-records',
      String(N),
      '--record-size',
      '64',
      '--throughput',
      '6000',
      '--reporting-interval',
      '100',
      '--key-distribution',
      'range',
      '--record-key-range',
      '10',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      'acks=all',
      'linger.ms=2',
    ])
    expect(run.code, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    const total = TOTAL.exec(lines.at(-1)!)
    expect(total, lines.at(-1)).not.toBeNull()
    expect(Number(total![1])).toBe(N)
    const [p50, p95, p99, p999, max] = [6, 7, 8, 9, 5].map((g) => Number(total![g]))
    expect(p50 <= p95 && p95 <= p99 && p99 <= p999 && p999 <= max).toBe(true)
    // paced at 6000/s, 3000 records take about 0.5 s: several 100 ms windows
    const windows = lines.slice(0, -1)
    expect(windows.length).toBeGreaterThanOrEqual(2)
    for (const w of windows) expect(w).toMatch(WINDOW)
    expect(windows.reduce((n, w) => n + Number(WINDOW.exec(w)![1]), 0)).toBeLessThanOrEqual(N)
    expect(Number(total![2])).toBeLessThan(6000 * 1.3)

    const read = await readAllWithKcat(bootstrap, topic, N)
    expect(read).toHaveLength(N)
    expect(read.every((r: KcatRecord) => /^[A-Z]{64}$/.test(utf8(r.value)!) && /^[0-9]$/.test(utf8(r.key)!))).toBe(true)
  })
})
