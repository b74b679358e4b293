#!/usr/bin/env node
// isokafka's benchmark: starts its own Kafka broker (scripts/kafka.mjs, cluster "bench"), runs every producer as its
// own child process (CPU and peak RSS per client) over the scenarios, several rounds, a fresh topic per run; writes
// bench/results/<date>.json + .svg and docs/benchmarks.md (medians, ratios, the issue's targets). Stops the broker.
//
//   npm run bench                          default scenarios (~10–15 min on 2 cores), 3 rounds
//   npm run bench -- --full                the whole matrix (16 throughput scenarios + sink/latency/memory): hours
//   npm run bench -- --quick               default scenarios at 1/10 of the records, 1 round
//   npm run bench -- --scenarios '100B-all-*,latency' --producers isokafka,java --rounds 5
//   npm run bench:smoke                    tiny counts, 1 round, 3 producers, < 2 min; exits 1 if anything fails
//   npm run bench -- --scenarios 'codec-*' compression: none/snappy/lz4/zstd, isokafka beside franz-go and Java
//
// Options: --rounds N, --headline-rounds N (the headline scenario's rounds: default 7, at least --rounds), --scale F (multiply record counts), --bootstrap host:port (use a running broker: no start/stop),
// --out FILE, --docs / --no-docs (docs/benchmarks.md is written by default and --full runs only), --window N
// (isokafka's outstanding sends, default 4096; the window-* scenarios vary it), --no-install (do not install missing peers: Node 22 + @platformatic/kafka into the cache, apt python3-confluent-kafka),
// --list (print the scenarios), --keep-broker, --no-warmup (skip the unmeasured broker warm-up traffic).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { startKafka, stopKafka, createTopic } from '../scripts/kafka.mjs'
import {
  allScenarios,
  DEFAULT_IDS,
  eventPayloads,
  HEADLINE_ID,
  PRODUCERS,
  selectScenarios,
  withTitle,
} from './lib/scenarios.mjs'
import {
  BENCH_DIR,
  REPO_DIR,
  buildSink,
  franzGoTool,
  isokafkaTool,
  javaTool,
  kafkajsTool,
  librdkafkaTool,
  machineInfo,
  platformaticTool,
} from './lib/tools.mjs'
import { summarize, writeReport } from './lib/report.mjs'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' },
    'headline-rounds': { type: 'string' },
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    scenarios: { type: 'string' },
    producers: { type: 'string' },
    scale: { type: 'string' },
    bootstrap: { type: 'string' },
    out: { type: 'string' },
    docs: { type: 'boolean' },
    'no-docs': { type: 'boolean', default: false },
    window: { type: 'string', default: '4096' },
    'install-platformatic': { type: 'boolean', default: false }, // kept for old command lines: installing is the default
    'no-install': { type: 'boolean', default: false },
    'keep-broker': { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
    'no-edge': { type: 'boolean', default: false },
    'edge-records': { type: 'string', default: '100000' },
    'no-gateway': { type: 'boolean', default: false },
    'no-shapes': { type: 'boolean', default: false },
    'gateway-clients': { type: 'string' },
    'gateway-seconds': { type: 'string' },
    'gateway-records': { type: 'string' },
    list: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
})

const say = (msg) => process.stderr.write(`[bench] ${msg}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const fmt = (n, d = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a'

// ---------------------------------------------------------------------------------------------------------------
// What to run

const catalogue = allScenarios()
if (args.list) {
  for (const s of catalogue)
    console.log(`${s.id.padEnd(20)} ${DEFAULT_IDS.includes(s.id) ? '(default) ' : ''}${s.title}`)
  process.exit(0)
}
const mode = args.smoke ? 'smoke' : args.quick ? 'quick' : args.full ? 'full' : 'default'
let scenarios = args.scenarios
  ? selectScenarios(args.scenarios, catalogue)
  : mode === 'full'
    ? catalogue
    : mode === 'smoke'
      ? selectScenarios('100B-all-p6-16k,sink,latency,memory', catalogue)
      : selectScenarios(DEFAULT_IDS.join(','), catalogue)
const rounds = Number(args.rounds ?? (mode === 'smoke' || mode === 'quick' ? 1 : 3))
// The headline scenario carries the targets and swings most with the broker's state: it gets more rounds (default 5,
// never fewer than --rounds), every producer the same number.
const headlineRounds = Math.max(
  rounds,
  Number(args['headline-rounds'] ?? (mode === 'smoke' || mode === 'quick' ? rounds : 7)),
)
const scale = Number(args.scale ?? (mode === 'quick' ? 0.1 : 1))
const wantProducers = args.producers
  ? args.producers.split(',').map((s) => s.trim())
  : mode === 'smoke'
    ? ['isokafka', 'isokafka-send', 'kafkajs', 'java']
    : PRODUCERS
for (const p of wantProducers)
  if (!PRODUCERS.includes(p)) throw new Error(`unknown producer ${p}; known: ${PRODUCERS.join(', ')}`)
scenarios = scenarios
  .map((s) => {
    const smoke = mode === 'smoke'
    let records = Math.max(1, Math.round(s.records * scale))
    if (smoke) records = s.kind === 'latency' ? 20_000 : s.kind === 'memory' ? 200_000 : 20_000
    return withTitle({ ...s, records, producers: s.producers.filter((p) => wantProducers.includes(p)) })
  })
  .filter((s) => s.producers.length > 0)
if (scenarios.length === 0) throw new Error('nothing to run (scenario/producer filters exclude everything)')
const writeDocs =
  args.docs ??
  (!args['no-docs'] && (mode === 'default' || mode === 'full') && !args.scenarios && !args.producers && !args.bootstrap)

const stamp = new Date()
  .toISOString()
  .replace(/:\d\d\.\d+Z$/, 'Z')
  .replace(/:/g, '')
const outFile = args.out
  ? path.resolve(args.out)
  : mode === 'smoke'
    ? path.join(os.tmpdir(), 'isokafka-bench-smoke', `${stamp}.json`)
    : path.join(
        BENCH_DIR,
        'results',
        `${stamp}${mode === 'quick' ? '-quick' : args.scenarios || args.producers ? '-partial' : mode === 'full' ? '-full' : ''}.json`,
      )
const clusterName = mode === 'smoke' ? 'bench-smoke' : 'bench'

// ---------------------------------------------------------------------------------------------------------------
// Tools

const tools = {}
{
  const need = new Set(scenarios.flatMap((s) => s.producers))
  tools.isokafka = isokafkaTool()
  tools['isokafka-send'] = tools.isokafka
  tools['isokafka-closure'] = tools.isokafka
  if (need.has('kafkajs')) tools.kafkajs = kafkajsTool()
  tools.java = await javaTool() // also makes sure the Kafka jars are cached (the broker needs them)
  if (need.has('franz-go')) tools['franz-go'] = franzGoTool({ log: say })
  // peers missing on a fresh machine are installed outside the repo (apt python3-confluent-kafka; Node 22 and
  // @platformatic/kafka under ~/.cache/isokafka) unless --no-install
  const install = !args['no-install']
  if (need.has('librdkafka')) tools.librdkafka = librdkafkaTool({ install, log: say })
  if (need.has('platformatic')) tools.platformatic = platformaticTool({ install, log: say })
  for (const [name, t] of Object.entries(tools)) {
    if (need.has(name)) say(`${name.padEnd(12)} ${t.ok ? t.version : `SKIPPED: ${t.reason}`}`)
  }
  if (!tools.isokafka.ok) throw new Error(tools.isokafka.reason)
}
const runnable = (p) => tools[p]?.ok
// the codec scenarios' records: one payload file every client reads (bench/lib/scenarios.mjs eventPayloads)
let payloadFile = null
let payloadMean = 0
if (scenarios.some((s) => s.codec)) {
  const lines = eventPayloads()
  payloadFile = path.join(os.tmpdir(), 'isokafka-bench-events.txt')
  fs.writeFileSync(payloadFile, lines.join('\n') + '\n')
  payloadMean = lines.reduce((n, l) => n + Buffer.byteLength(l), 0) / lines.length
}
let sinkBundle = null
if (scenarios.some((s) => s.kind === 'sink')) sinkBundle = await buildSink()

// ---------------------------------------------------------------------------------------------------------------
// Processes: every child is spawned under /usr/bin/time (CPU seconds, peak RSS) in its own process group.

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const current = new Set()
let aborted = false

function runChild(cmd, argv, { timeoutMs, env } = {}) {
  const tfile = path.join(os.tmpdir(), `isokafka-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`)
  const full = TIME ? [TIME, ['-f', '%e %U %S %M', '-o', tfile, cmd, ...argv]] : [cmd, argv]
  return new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(full[0], full[1], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    })
    current.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => {
      stderr += d
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19))
    })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }, timeoutMs ?? 600_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      current.delete(child)
      let usage = null
      try {
        const lines = fs.readFileSync(tfile, 'utf8').trim().split('\n')
        const [wall, user, sys, maxKb] = lines[lines.length - 1].split(' ').map(Number)
        if (Number.isFinite(user))
          usage = {
            wallSeconds: wall,
            cpuSeconds: user + sys,
            userSeconds: user,
            sysSeconds: sys,
            peakRssBytes: maxKb * 1024,
          }
        fs.rmSync(tfile, { force: true })
      } catch {
        /* killed before time wrote it */
      }
      resolve({ code, signal, timedOut, stdout, stderr, usage, elapsedSeconds: (performance.now() - t0) / 1000 })
    })
  })
}

function lastJson(stdout) {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'))
  if (!line) return null
  try {
    return JSON.parse(line)
  } catch {
    return null
  }
}

const CLK_TCK = 100
function procCpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch {
    return NaN
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One producer run

const JAVA_PERF_JVM = [
  '-Xmx512m',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-Djava.awt.headless=true',
] // as kafka-producer-perf-test.sh / kafka-run-class.sh
const JAVA_SUMMARY =
  /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, ([\d.]+) ms 50th, ([\d.]+) ms 95th, ([\d.]+) ms 99th, ([\d.]+) ms 99.9th/

function quietLog4j() {
  const f = path.join(os.tmpdir(), 'isokafka-bench-log4j2.properties')
  if (!fs.existsSync(f)) fs.writeFileSync(f, 'status = error\nrootLogger.level = ERROR\n')
  return f
}

function producerCommand(producer, s, bootstrap, topic, round) {
  if (s.kind === 'transactions') return transactionsCommand(producer, s, bootstrap, topic)
  const cfg = {
    bootstrap,
    topic,
    records: s.records,
    size: s.size,
    acks: s.acks,
    idempotent: s.idempotent,
    lingerMs: s.lingerMs,
    batchSize: s.batchSize,
    bufferMemory: s.bufferMemory,
    partitions: s.partitions,
    rate: s.rate ?? 0,
    window: s.window ?? Number(args.window),
    mode: s.kind === 'memory' ? 'memory' : s.rate ? 'paced' : 'throughput',
    maxSeconds: s.maxSeconds,
    ...(s.codec ? { codec: s.codec, payloadFile } : {}),
  }
  const nodeFlags = []
  if (args['cpu-prof'] && producer.startsWith('isokafka')) {
    const dir = path.join(os.tmpdir(), 'isokafka-bench-prof')
    fs.mkdirSync(dir, { recursive: true })
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${s.id}-r${round}.cpuprofile`)
  }
  switch (producer) {
    case 'isokafka':
    case 'isokafka-closure':
    case 'isokafka-send':
      return [
        process.execPath,
        [
          ...nodeFlags,
          ...(s.kind === 'memory' ? ['--expose-gc'] : []),
          path.join(BENCH_DIR, 'producers', 'isokafka.mjs'),
          JSON.stringify({
            ...cfg,
            api: producer === 'isokafka-send' ? 'send' : 'produce',
            callback: producer === 'isokafka-closure' ? 'closure' : 'shared',
          }),
        ],
      ]
    case 'kafkajs':
      return [process.execPath, [path.join(BENCH_DIR, 'producers', 'kafkajs.mjs'), JSON.stringify(cfg)]]
    case 'platformatic':
      return [
        tools.platformatic.node,
        [
          path.join(BENCH_DIR, 'producers', 'platformatic.mjs'),
          JSON.stringify({ ...cfg, platformaticDir: tools.platformatic.dir }),
        ],
      ]
    case 'librdkafka':
      return [tools.librdkafka.python, [path.join(BENCH_DIR, 'producers', 'confluent.py'), JSON.stringify(cfg)]]
    case 'franz-go':
      return [
        tools['franz-go'].bin,
        [
          '-bootstrap',
          bootstrap,
          '-topic',
          topic,
          '-records',
          String(s.records),
          '-size',
          String(s.size),
          '-acks',
          String(s.acks),
          `-idempotent=${Boolean(s.idempotent)}`,
          '-linger-ms',
          String(s.lingerMs),
          '-batch-bytes',
          String(s.batchSize),
          '-buffer-bytes',
          String(s.bufferMemory),
          // one promise for every record, latency from the record's timestamp: as isokafka's produce() is driven
          `-shared-callback=${s.kind === 'throughput' || s.kind === 'sink'}`,
          ...(s.codec ? ['-codec', s.codec, '-payload-file', payloadFile] : []),
        ],
      ]
    case 'java': {
      const props = [
        `acks=${s.acks}`,
        `enable.idempotence=${Boolean(s.idempotent)}`,
        `linger.ms=${s.lingerMs}`,
        `batch.size=${s.batchSize}`,
        `buffer.memory=${s.bufferMemory}`,
        'max.in.flight.requests.per.connection=5',
        `compression.type=${s.codec ?? 'none'}`,
        'client.id=java-bench',
      ]
      return [
        tools.java.java,
        [
          ...JAVA_PERF_JVM,
          `-Dlog4j2.configurationFile=${quietLog4j()}`,
          '-cp',
          path.join(tools.java.libs, '*'),
          'org.apache.kafka.tools.ProducerPerformance',
          '--bootstrap-server',
          bootstrap,
          '--topic',
          topic,
          '--num-records',
          String(s.records),
          ...(s.codec ? ['--payload-file', payloadFile] : ['--record-size', String(s.size)]),
          '--throughput',
          String(s.rate || -1),
          '--command-property',
          ...props,
        ],
      ]
    }
    default:
      throw new Error(`unknown producer ${producer}`)
  }
}

/** The transactions scenario: isokafka-txn.mjs, or Java's KafkaProducer in JavaTxn.java (a single-file program). */
function transactionsCommand(producer, s, bootstrap, topic) {
  const cfg = JSON.stringify({
    bootstrap,
    topic,
    records: s.records,
    txnRecords: s.txnRecords,
    size: s.size,
    lingerMs: s.lingerMs,
    batchSize: s.batchSize,
    bufferMemory: s.bufferMemory,
  })
  if (producer === 'isokafka') return [process.execPath, [path.join(BENCH_DIR, 'producers', 'isokafka-txn.mjs'), cfg]]
  if (producer === 'java') {
    return [
      tools.java.java,
      [
        ...JAVA_PERF_JVM,
        `-Dlog4j2.configurationFile=${quietLog4j()}`,
        '-cp',
        path.join(tools.java.libs, '*'),
        path.join(BENCH_DIR, 'producers', 'JavaTxn.java'),
        cfg,
      ],
    ]
  }
  throw new Error(`no transactions producer for ${producer}`)
}

function parseJava(stdout, s) {
  const m = JAVA_SUMMARY.exec(stdout)
  if (!m) return null
  const [, sent, rps, , avg, max, p50, p95, p99, p999] = m
  const records = Number(sent)
  const recordsPerSec = Number(rps)
  return {
    client: 'java',
    records: s.records,
    acked: records,
    failed: s.records - records,
    seconds: records / recordsPerSec,
    recordsPerSec,
    mbPerSec: (recordsPerSec * s.size) / 1e6,
    latencyMs: {
      avg: Number(avg),
      p50: Number(p50),
      p95: Number(p95),
      p99: Number(p99),
      p999: Number(p999),
      max: Number(max),
    },
    phaseCpuSeconds: null,
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Broker, topics, sink

let kafka = null // { bootstrap, pid, version }
let admin = null
let sink = null // { child, port, lines }

async function startBroker() {
  if (args.bootstrap) {
    kafka = {
      bootstrap: args.bootstrap,
      pid: null,
      version: tools.java?.kafkaVersion ?? '?',
      external: true,
      dataDir: localDataDir(args.bootstrap),
    }
    say(`using the running broker at ${kafka.bootstrap} (no start/stop)`)
  } else {
    await stopKafka({ name: clusterName }).catch(() => {})
    // a deleted topic's files go within a second (default 60 s), in the pause after its run rather than during a later one
    const state = await startKafka({ name: clusterName, overrides: ['file.delete.delay.ms=1000'] })
    kafka = {
      bootstrap: state.bootstrap,
      pid: state.nodes[0].pid,
      version: state.version,
      external: false,
      dataDir: state.nodes[0].dataDir,
    }
    say(`Kafka ${state.version} started at ${kafka.bootstrap} (pid ${kafka.pid}, cluster "${clusterName}")`)
  }
  const { default: kafkajs } = await import('kafkajs')
  admin = new kafkajs.Kafka({
    clientId: 'bench-admin',
    brokers: kafka.bootstrap.split(','),
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin()
  await admin.connect()
}

async function stopBroker() {
  try {
    await admin?.disconnect()
  } catch {
    /* ignore */
  }
  if (kafka && !kafka.external && !args['keep-broker']) await stopKafka({ name: clusterName })
}

/**
 * A fresh topic for one run. Created through the Kafka admin API (KafkaJS's admin client, in this process, outside
 * every measurement) because scripts/kafka.mjs's createTopic starts a JVM TopicCommand (~2.5 s on 2 cores) per topic;
 * it remains the fallback.
 */
async function makeTopic(name, partitions) {
  let created
  try {
    created = await admin.createTopics({
      topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: false,
      timeout: 30000,
    })
  } catch (err) {
    say(`admin createTopics failed (${err.message}); falling back to scripts/kafka.mjs createTopic`)
    await createTopic(kafka.bootstrap, name, partitions, 1)
    return
  }
  if (!created) throw new Error(`topic ${name} already exists`)
  // wait until the broker reports every partition with a leader
  const deadline = Date.now() + 30000
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [name] })
      const t = md.topics.find((x) => x.name === name)
      if (
        t &&
        t.partitions.length === partitions &&
        t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0)
      )
        return
    } catch {
      /* not there yet */
    }
    if (Date.now() > deadline) throw new Error(`topic ${name}: no leaders after 30 s`)
    await sleep(50)
  }
}

async function topicRecords(name) {
  const offs = await admin.fetchTopicOffsets(name)
  return offs.reduce((n, o) => n + Number(o.high) - Number(o.low), 0)
}

async function deleteTopic(name) {
  try {
    await admin.deleteTopics({ topics: [name], timeout: 30000 })
  } catch (err) {
    say(`could not delete ${name}: ${err.message}`)
  }
}

async function startSink(partitions) {
  const child = spawn(process.execPath, [sinkBundle, '--partitions', String(partitions)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = []
  let waiters = []
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i))
      buf = buf.slice(i + 1)
      const ws = waiters
      waiters = []
      for (const w of ws) w()
    }
  })
  const nextLine = (pred, ms = 5000) =>
    new Promise((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        reject(new Error('the sink did not answer'))
      }, ms)
      const check = () => {
        if (settled) return
        const idx = lines.findIndex(pred)
        if (idx < 0) return void waiters.push(check)
        settled = true
        clearTimeout(timer)
        resolve(lines.splice(idx, 1)[0])
      }
      check()
    })
  const portLine = await nextLine((l) => l.startsWith('SINK_PORT='), 10000)
  sink = { child, port: Number(portLine.split('=')[1]), nextLine, partitions }
  say(`sink listening on 127.0.0.1:${sink.port} (pid ${child.pid})`)
}

async function sinkRecords(topic) {
  sink.child.kill('SIGUSR2')
  const line = await sink.nextLine((l) => l.startsWith('{'))
  return JSON.parse(line).records[topic] ?? 0
}

function stopSink() {
  if (sink) {
    sink.child.kill('SIGTERM')
    sink = null
  }
}

/**
 * Every run starts with nothing left to write back. The broker's log is written into the page cache, and the kernel
 * writes dirty pages back (allocating their blocks on ext4) 30 s later, on 2 cores shared with the runs: a run then
 * measured up to 1.7× slower when it came right after another one, and which producer suffered depended on the order.
 * With `sync` before each run, the same pair of producers measured the same ratio in either order.
 */
function settleDisk() {
  spawnSync('sync', { stdio: 'ignore' })
}

/**
 * A fresh broker's JVM is still compiling its produce path: the first runs after start measured 2–3× slower with
 * several times the broker CPU. Warm it up with unmeasured traffic (Java's ProducerPerformance, or isokafka without
 * Java) on throw-away topics: acks=all idempotent and acks=1, twice each, 6 partitions.
 */
async function warmUpBroker() {
  const records = mode === 'smoke' ? 100_000 : 1_000_000
  const producer = runnable('java') ? 'java' : 'isokafka'
  const t0 = performance.now()
  const out = []
  // broker CPU per pass of 1M records on this machine: 3.1, 2.5, 1.9, 1.0 s (steady state ~0.6–1 s): at least four
  // passes, and more (up to eight) while the last one still cost the broker 15 % less CPU than the one before
  const minPasses = 4
  const maxPasses = mode === 'smoke' ? 4 : 8
  const stillFalling = () => {
    const [a, b] = out.slice(-2).map((w) => w.brokerCpuSeconds)
    return a != null && b != null && b < a * 0.85
  }
  for (let pass = 0; pass < maxPasses && (pass < minPasses || stillFalling()); pass++) {
    const [acks, idempotent] = pass % 2 === 0 ? ['all', true] : [1, false]
    out.push(await unmeasuredRun(producer, { records, acks, idempotent }, `${acks}`, 180_000))
  }
  say(
    `broker warm-up (${producer}, ${out.length} × ${fmt(records)} records, not measured): ${out.map((w) => `${fmt(w.recordsPerSec)} rec/s`).join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
  return out
}

// One short unmeasured run per client after the warm-up passes, so no client's Produce version and request shape
// first reaches the broker in a measured run. It did not remove the slow first round: in the runs of 2026-12-02/03
// round 1 of the first scenarios was slow for most producers (0.46–0.76 of their own medians) with it and without.
async function warmUpClients(producers) {
  const records = mode === 'smoke' ? 10_000 : 200_000
  const out = []
  for (const producer of producers) {
    if (aborted) break
    out.push(await unmeasuredRun(producer, { records, acks: 'all', idempotent: true }, producer, 120_000))
  }
  say(
    `client warm-up (${fmt(records)} records each, not measured): ${out.map((w) => `${w.producer} ${fmt(w.recordsPerSec)} rec/s`).join(', ')}`,
  )
  return out
}

// 100 B records on a throw-away topic of 6 partitions; returns the client's rate and the broker's CPU for the run
async function unmeasuredRun(producer, { records, acks, idempotent }, topicTag, timeoutMs) {
  const s = {
    id: 'warmup',
    kind: 'throughput',
    records,
    size: 100,
    acks,
    idempotent,
    partitions: 6,
    batchSize: 16384,
    lingerMs: 5,
    bufferMemory: 32 << 20,
  }
  const topic = `bench-warmup-${topicTag}-${Date.now().toString(36)}`
  await makeTopic(topic, s.partitions)
  const [cmd, argv] = producerCommand(producer, s, kafka.bootstrap, topic, 0)
  const broker0 = kafka.pid ? procCpuSeconds(kafka.pid) : NaN
  const r = await runChild(cmd, argv, { timeoutMs })
  const res = producer === 'java' ? parseJava(r.stdout, s) : lastJson(r.stdout)
  const brokerCpuSeconds = kafka.pid ? procCpuSeconds(kafka.pid) - broker0 : null
  await deleteTopic(topic)
  return { producer, acks, records, recordsPerSec: res?.recordsPerSec ?? null, brokerCpuSeconds }
}

// ---------------------------------------------------------------------------------------------------------------
// The loop

async function runOne(s, producer, round) {
  const topic = `bench-${s.id.replace(/[^A-Za-z0-9-]/g, '')}-${producer}-r${round}-${Date.now().toString(36)}`
  const bootstrap = s.kind === 'sink' ? `127.0.0.1:${sink.port}` : kafka.bootstrap
  if (s.kind !== 'sink') await makeTopic(topic, s.partitions)
  await sleep(300)
  settleDisk()
  const [cmd, argv] = producerCommand(producer, s, bootstrap, topic, round)
  const load = os.loadavg()
  const broker0 = kafka.pid && s.kind !== 'sink' ? procCpuSeconds(kafka.pid) : NaN
  const sink0 = s.kind === 'sink' ? procCpuSeconds(sink.child.pid) : NaN
  const timeoutMs = s.maxSeconds ? (s.maxSeconds + 90) * 1000 : 120_000 + s.records * 0.25 // 1M records: 6 min
  const r = await runChild(cmd, argv, { timeoutMs })
  const brokerCpuSeconds = kafka.pid && s.kind !== 'sink' ? procCpuSeconds(kafka.pid) - broker0 : null
  const sinkCpuSeconds = s.kind === 'sink' ? procCpuSeconds(sink.child.pid) - sink0 : null
  const res = producer === 'java' && s.kind !== 'transactions' ? parseJava(r.stdout, s) : lastJson(r.stdout)
  const run = {
    scenario: s.id,
    producer,
    round,
    topic,
    ok: false,
    error: null,
    load1: load[0],
    ...(res ?? {}),
    cpuSeconds: r.usage?.cpuSeconds ?? null,
    userSeconds: r.usage?.userSeconds ?? null,
    sysSeconds: r.usage?.sysSeconds ?? null,
    peakRssBytes: r.usage?.peakRssBytes ?? null,
    processWallSeconds: r.usage?.wallSeconds ?? r.elapsedSeconds,
    brokerCpuSeconds,
    sinkCpuSeconds,
  }
  delete run.client
  if (r.timedOut) run.error = `timed out after ${timeoutMs / 1000} s`
  else if (!res)
    run.error = `no result (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-8).join(' | ')}`
  else if (res.error) run.error = res.error.split('\n').slice(0, 6).join(' | ')
  else if (res.unfinished) run.error = res.firstError
  else if (res.failed > 0 || res.acked < s.records)
    run.error = `${res.failed} of ${s.records} records failed: ${res.firstError ?? '?'}`
  else if (r.code !== 0) run.error = `exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-4).join(' | ')}`
  // independent check: what the broker (or the sink) holds for the topic
  try {
    run.storedRecords = s.kind === 'sink' ? await sinkRecords(topic) : await topicRecords(topic)
    const exact = s.idempotent && s.kind !== 'transactions' // a transaction's commit markers take offsets too
    if (!run.error && (exact ? run.storedRecords !== s.records : run.storedRecords < s.records)) {
      run.error = `the ${s.kind === 'sink' ? 'sink' : 'broker'} holds ${run.storedRecords} records, expected ${s.records}`
    }
  } catch (err) {
    run.storedRecords = null
    if (!run.error) run.error = `could not count the topic's records: ${err.message}`
  }
  run.ok = !run.error
  if (s.codec && kafka.dataDir) {
    // compression ratio: the topic's log on the broker over the raw value bytes (Java picks payloads at random: its
    // raw bytes are the records times the payloads' mean)
    run.logBytes = topicLogBytes(topic, s.partitions)
    run.rawValueBytes ??= s.records * payloadMean
    run.logToRaw = run.logBytes / run.rawValueBytes
  }
  if (s.kind !== 'sink') await deleteTopic(topic)
  return run
}

function topicLogBytes(topic, partitions) {
  let n = 0
  for (let p = 0; p < partitions; p++) {
    const dir = path.join(kafka.dataDir, `${topic}-${p}`)
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.log')) n += fs.statSync(path.join(dir, f)).size
  }
  return n
}

/** The data directory of a running one-node scripts/kafka.mjs cluster at `bootstrap` (for --bootstrap), or null. */
function localDataDir(bootstrap) {
  const root = path.join(process.env.TMPDIR || '/tmp', 'isokafka-kafka')
  for (const name of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    try {
      const st = JSON.parse(fs.readFileSync(path.join(root, name, 'state.json'), 'utf8'))
      if (st.bootstrap === bootstrap && st.nodes?.length === 1) return st.nodes[0].dataDir
    } catch {
      /* not a cluster */
    }
  }
  return null
}

function describe(run) {
  if (!run.ok)
    return `FAILED: ${run.error}${run.rssOverIdleBytes != null ? ` (RSS over idle ${fmt(run.rssOverIdleBytes / 1e6, 1)} MB, idle ${fmt(run.idleRssBytes / 1e6, 1)} MB)` : ''}`
  const lat = run.latencyMs ? `p50 ${fmt(run.latencyMs.p50, 1)} / p99 ${fmt(run.latencyMs.p99, 1)} ms` : ''
  const mem =
    run.rssOverIdleBytes != null
      ? `, RSS over idle ${fmt(run.rssOverIdleBytes / 1e6, 1)} MB (idle ${fmt(run.idleRssBytes / 1e6, 1)})`
      : ''
  return (
    `${fmt(run.recordsPerSec)} rec/s, ${fmt(run.mbPerSec, 1)} MB/s, ${lat}, CPU ${fmt(run.cpuSeconds, 2)} s` +
    `${run.brokerCpuSeconds != null ? ` (broker ${fmt(run.brokerCpuSeconds, 2)} s)` : ''}, peak RSS ${fmt(run.peakRssBytes / 1e6)} MB${mem}` +
    `${run.logToRaw != null ? `, log/raw ${fmt(run.logToRaw, 3)}` : ''}`
  )
}

// The edge paths (scripts/transports.mjs): Node TCP, Workers TCP in workerd, WebSocket and fetch through the gateway,
// REST v3; once per round in a child process against the bench broker, read back by kcat; medians and ratios to Node TCP.
const runEdge =
  !args['no-edge'] && !args.scenarios && !args.producers && (mode === 'default' || mode === 'full' || mode === 'quick')

async function runEdgePaths() {
  const records = Math.max(1000, Math.round(Number(args['edge-records']) * scale))
  const runs = []
  for (let round = 1; round <= rounds && !aborted; round++) {
    say(`round ${round}/${rounds} edge paths (${fmt(records)} records per transport)...`)
    const r = await runChild(
      process.execPath,
      [
        path.join(REPO_DIR, 'scripts', 'transports.mjs'),
        '--bootstrap',
        kafka.bootstrap,
        '--records',
        String(records),
        '--json',
      ],
      { timeoutMs: 600_000 },
    )
    let rows = null
    try {
      rows = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))
    } catch {
      say(`  edge paths failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`)
    }
    if (rows) {
      for (const row of rows)
        say(
          `  ${row.transport}: ${fmt(Math.round(row.recordsPerSec))} rec/s (${row.ratioToNodeTcp?.toFixed(2)}× Node TCP), read back ${fmt(row.readBack)}`,
        )
      runs.push({ round, rows })
    }
  }
  return { records, runs }
}

// The gateway (bench/gateway/run.mjs): the gateway as its own process; one client over Node TCP straight to Kafka,
// over WebSocket and over fetch through the gateway (same records, same loop: ratios to Node TCP), then 100 and 1,000
// concurrent WebSocket clients offering more than it takes; every acked record read back by kcat (load: ids too).
const runGatewayBench = !args['no-gateway'] && ((!args.scenarios && !args.producers) || mode === 'smoke')

// How each way of calling isokafka goes (bench/api-shapes.mjs: produce(), send() windows, Promise.all of every send,
// sendBatch, concurrent handlers, for await) against the sink, as ratios to produce(): issue 18's goals are these ratios
const runShapesBench = !args['no-shapes'] && ((!args.scenarios && !args.producers) || mode === 'smoke')
async function runApiShapes() {
  const { runShapes } = await import('./api-shapes.mjs')
  const smoke = mode === 'smoke'
  const records = smoke ? 10_000 : Math.max(20_000, Math.round(1_000_000 * scale))
  say(`call shapes: ${fmt(records)} records each, ${rounds} round(s), against the sink...`)
  try {
    // the smoke run proves the harness with three shapes; the others use the same child and sink
    const shapes = smoke ? ['produce', 'all', 'batch'] : undefined
    const out = await runShapes({ records, rounds, shapes, log: (line) => say(`  ${line}`) })
    for (const [shape, r] of Object.entries(out.shapes))
      say(
        `  ${shape}: ${fmt(Math.round(r.recordsPerSec))} rec/s, ${r.ratioToProduce?.toFixed(2) ?? '-'}x produce(), peak RSS ${r.peakRssMb} MB`,
      )
    return { ok: true, ...out }
  } catch (err) {
    say(`  call shapes FAILED: ${err.message}`)
    return { ok: false, error: err.message }
  }
}

async function runGateway() {
  const { loadRun, singleRun } = await import('./gateway/run.mjs')
  const smoke = mode === 'smoke'
  const clients = (args['gateway-clients'] ?? (smoke ? '20' : '100,1000')).split(',').filter(Boolean).map(Number)
  const seconds = Number(args['gateway-seconds'] ?? (smoke ? 2 : mode === 'quick' ? 5 : 10))
  const records = Number(args['gateway-records'] ?? (smoke ? 20_000 : Math.max(20_000, Math.round(300_000 * scale))))
  const gwRounds = smoke ? 1 : rounds
  const out = {
    clients,
    seconds,
    singleRecords: records,
    gatewayWarmupRecords: Number(process.env.GATEWAY_WARMUP_RECORDS ?? (smoke ? 5_000 : 100_000)),
    single: [],
    load: [],
  }
  for (let round = 1; round <= gwRounds && !aborted; round++) {
    // alternate the order of the single-client transports between rounds
    const transports = round % 2 ? ['tcp', 'websocket', 'fetch'] : ['fetch', 'websocket', 'tcp']
    for (const transport of transports) {
      if (aborted) break
      say(`round ${round}/${gwRounds} gateway single client ${transport} (${fmt(records)} records)...`)
      settleDisk()
      let run
      try {
        run = {
          round,
          ...(await singleRun({
            bootstrap: kafka.bootstrap,
            makeTopic,
            transport,
            records,
            warmupRecords: out.gatewayWarmupRecords,
          })),
        }
      } catch (err) {
        run = { round, transport, ok: false, error: err.message }
      }
      say(
        `  ${transport}: ${run.ok ? `${fmt(Math.round(run.recordsPerSec))} rec/s, read back ${fmt(run.inKafka)}` : `FAILED ${run.error ?? `acked ${run.acked}, in Kafka ${run.inKafka}`}`}`,
      )
      out.single.push(run)
    }
    for (const n of round % 2 ? clients : [...clients].reverse()) {
      if (aborted) break
      say(`round ${round}/${gwRounds} gateway ${fmt(n)} clients for ${seconds} s...`)
      settleDisk()
      let run
      try {
        run = { round, ...(await loadRun({ bootstrap: kafka.bootstrap, makeTopic, clients: n, seconds })) }
      } catch (err) {
        run = { round, clients: n, ok: false, error: err.message }
      }
      say(
        `  ${fmt(n)} clients: ${run.ok ? `${fmt(Math.round(run.recordsPerSec))} acked rec/s, gateway ${run.gatewayCpuPerMillion.toFixed(2)} CPU-s/M, p99 ack ${fmt(run.p99FrameAckMs, 1)} ms, peak RSS ${fmt(run.gatewayRssMB.peak)} MB, ${fmt(run.ackedChecked)} acked records read back by id` : `FAILED ${run.error ?? `lost ${run.lost}, duplicates ${run.duplicates}`}`}`,
      )
      out.load.push(run)
    }
  }
  return out
}

/** The codec scenarios' medians per producer and isokafka's ratios to franz-go (records/s, log/raw, CPU per 1M). */
function codecSummary(results) {
  const median = (xs) => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b)
    return v.length ? (v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : NaN
  }
  const rows = []
  for (const s of scenarios.filter((x) => x.codec)) {
    const by = {}
    for (const p of s.producers) {
      const runs = results.runs.filter((r) => r.scenario === s.id && r.producer === p && r.ok)
      if (!runs.length) continue
      by[p] = {
        rounds: runs.length,
        recordsPerSec: median(runs.map((r) => r.recordsPerSec)),
        logToRaw: median(runs.map((r) => r.logToRaw)),
        cpuSecondsPerMillion: median(runs.map((r) => (r.cpuSeconds / s.records) * 1e6)),
      }
    }
    const iso = by.isokafka
    const fg = by['franz-go']
    rows.push({
      codec: s.codec,
      producers: by,
      isokafkaToFranzGo:
        iso && fg
          ? {
              recordsPerSec: iso.recordsPerSec / fg.recordsPerSec,
              logToRaw: iso.logToRaw / fg.logToRaw,
              cpuPerMillion: iso.cpuSecondsPerMillion / fg.cpuSecondsPerMillion,
            }
          : null,
    })
  }
  for (const r of rows) {
    say(
      `codec ${r.codec}: ${Object.entries(r.producers)
        .map(
          ([p, v]) =>
            `${p} ${fmt(v.recordsPerSec)} rec/s, log/raw ${fmt(v.logToRaw, 3)}, ${fmt(v.cpuSecondsPerMillion, 2)} CPU-s/M`,
        )
        .join('; ')}` +
        (r.isokafkaToFranzGo
          ? ` | isokafka/franz-go: rate ${r.isokafkaToFranzGo.recordsPerSec.toFixed(2)}x, log/raw ${r.isokafkaToFranzGo.logToRaw.toFixed(3)}x, CPU ${r.isokafkaToFranzGo.cpuPerMillion.toFixed(2)}x`
          : ''),
    )
  }
  return rows
}

async function main() {
  const startedAt = new Date()
  const machine = machineInfo()
  say(
    `${mode} run: ${scenarios.length} scenario(s) × ${rounds} round(s); ${machine.cores} cores (${machine.cpuModel}), load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  )
  for (const s of scenarios)
    say(
      `  ${s.id.padEnd(18)} ${fmt(s.records)} records; ${s.producers.map((p) => (runnable(p) ? p : `${p} (skipped)`)).join(', ')}`,
    )
  const results = {
    kind: 'isokafka-bench',
    version: 1,
    mode,
    startedAt: startedAt.toISOString(),
    finishedAt: null,
    machine: {
      ...machine,
      java: tools.java?.version ?? null,
      go: tools['franz-go']?.ok ? tools['franz-go'].version : null,
      kafka: null,
      loadAtStart: os.loadavg(),
      loadAtEnd: null,
      note: 'client and broker share the same cores',
    },
    clients: Object.fromEntries(
      Object.entries(tools)
        .filter(([k]) => k !== 'isokafka-send' && k !== 'isokafka-closure')
        .map(([k, t]) => [k, t.ok ? t.version : `skipped: ${t.reason}`]),
    ),
    options: {
      rounds,
      headlineRounds,
      scale,
      window: Number(args.window),
      scenarios: scenarios.map((s) => s.id),
      producers: wantProducers,
      syncBeforeEachRun: true,
      order: 'forwards, backwards, then rotated by one, and so on',
    },
    scenarios,
    runs: [],
    summary: null,
  }
  const save = () => {
    results.summary = summarize(results)
    fs.mkdirSync(path.dirname(outFile), { recursive: true })
    fs.writeFileSync(outFile, JSON.stringify(results, null, 2) + '\n')
  }
  await startBroker()
  results.machine.kafka = `Apache Kafka ${kafka.version} (KRaft, 1 node${kafka.external ? ', external' : ', started by the bench'})`
  try {
    if (!args['no-warmup'] && scenarios.some((s) => s.kind !== 'sink')) {
      results.warmup = await warmUpBroker()
      const clients = [...new Set(scenarios.filter((s) => s.kind !== 'sink').flatMap((s) => s.producers))].filter(
        runnable,
      )
      results.warmupClients = await warmUpClients(clients)
    }
    const sinkScenario = scenarios.find((s) => s.kind === 'sink')
    if (sinkScenario) await startSink(sinkScenario.partitions)
    const lastRound = scenarios.some((s) => s.id === HEADLINE_ID) ? headlineRounds : rounds
    for (let round = 1; round <= lastRound && !aborted; round++) {
      for (const s of scenarios) {
        const roundsOf = s.id === HEADLINE_ID ? headlineRounds : rounds
        if (round > roundsOf) continue
        const order = s.producers.filter(runnable)
        // rounds 1, 2 run the order forwards and backwards, rounds 3, 4 the order rotated by one, and so on: a plain
        // rotation keeps each producer right after the same neighbour, and whatever the run before leaves behind (broker
        // GC, page cache) then always lands on it
        const shift = Math.floor((round - 1) / 2)
        const turned = order.map((_, i) => order[(i + shift) % order.length])
        const rotated = round % 2 === 0 ? turned.reverse() : turned
        for (const producer of rotated) {
          if (aborted) break
          say(`round ${round}/${roundsOf} ${s.id} ${producer}...`)
          let run
          try {
            run = await runOne(s, producer, round)
          } catch (err) {
            // a broken run (topic creation, the sink...) is recorded as failed; the bench goes on
            run = { scenario: s.id, producer, round, ok: false, error: `harness: ${err.message}` }
          }
          results.runs.push(run)
          say(`  ${producer}: ${describe(run)}`)
          save()
        }
      }
    }
    if (runEdge && !aborted) results.edge = await runEdgePaths()
    if (runGatewayBench && !aborted) {
      results.gateway = await runGateway()
      save()
    }
    if (runShapesBench && !aborted) {
      results.apiShapes = await runApiShapes()
      save()
    }
  } finally {
    stopSink()
    await stopBroker()
  }
  if (scenarios.some((s) => s.codec)) results.codecs = codecSummary(results)
  results.finishedAt = new Date().toISOString()
  results.machine.loadAtEnd = os.loadavg()
  for (const [p, t] of Object.entries(tools)) {
    if (!t.ok && scenarios.some((s) => s.producers.includes(p)))
      results.runs.push({ producer: p, skipped: true, reason: t.reason })
  }
  // the smoke run proves the harness works: a producer it cannot run is a failure there
  const skippedFail = mode === 'smoke' ? results.runs.filter((r) => r.skipped) : []
  save()
  say(`results: ${path.relative(process.cwd(), outFile)}`)
  const docsFile = path.join(REPO_DIR, 'docs', 'benchmarks.md')
  const { svgFile } = writeReport(results, { jsonFile: outFile, docsFile: writeDocs ? docsFile : null })
  if (svgFile) say(`chart:   ${path.relative(process.cwd(), svgFile)}`)
  if (writeDocs) say(`docs:    ${path.relative(process.cwd(), docsFile)}`)
  const failed = results.runs.filter((r) => !r.skipped && !r.ok)
  if (results.gateway) failed.push(...[...results.gateway.single, ...results.gateway.load].filter((r) => !r.ok))
  if (results.apiShapes && !results.apiShapes.ok) failed.push(results.apiShapes)
  if (failed.length) say(`${failed.length} run(s) failed`)
  if (skippedFail.length) say(`smoke: could not run ${skippedFail.map((r) => r.producer).join(', ')}`)
  return failed.length === 0 && skippedFail.length === 0 && !aborted
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    if (aborted) process.exit(130)
    aborted = true
    say(`${sig}: stopping children, the sink and the broker...`)
    for (const c of current) {
      try {
        process.kill(-c.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    stopSink()
    await stopBroker().catch(() => {})
    process.exit(130)
  })
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  async (err) => {
    say(`error: ${err.stack ?? err}`)
    stopSink()
    await stopBroker().catch(() => {})
    process.exit(1)
  },
)
