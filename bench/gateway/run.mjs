#!/usr/bin/env node
// The gateway benchmark (part of `npm run bench`; also runs alone). The gateway runs as its own process (the CLI,
// `bin/isokafka.mjs gateway`, from the built package), so its CPU and memory are its own:
//   single   one client: bench/producers/isokafka.mjs (produce() + ready(), one callback) over Node TCP straight to
//            Kafka, over WebSocket → gateway and over fetch → gateway, the same records (100 B, no key, 6 partitions)
//   load     N concurrent WebSocket clients (bench/gateway/clients.mjs, in 1–2 processes) keeping frames unanswered,
//            offering more than the gateway takes: acked records/s, gateway CPU-s per million records, p99 frame ack
//            latency, gateway peak RSS
// Every acknowledged record is read back from Kafka with kcat: single runs by count, load runs by count and ids.
//
//   node bench/gateway/run.mjs --bootstrap HOST:PORT [--clients 100,1000] [--seconds 10] [--single-records 200000]
//        [--rounds 1] [--smoke] [--gateway-flags '--cpu-prof --cpu-prof-dir=/tmp/p'] [--json]
//        [--single-options '{"batchSize":65536}']   (producer options of the single-client runs' client)
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(HERE, '../..')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const say = (...a) => process.stderr.write(`[gateway-bench] ${a.join(' ')}\n`)

/** utime + stime of a process, in seconds. */
export function procCpu(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
const procStatus = (pid, field) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024

/** The gateway as its own process; resolves with { child, url, secret, token(topic) }. */
export async function startGateway({
  bootstrap,
  flags = [],
  nodeFlags = [],
  env = {},
  bin = path.join(REPO, 'bin/isokafka.mjs'),
}) {
  const secret = 'bench-secret-' + Math.random().toString(36).slice(2)
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      bin,
      'gateway',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--bootstrap',
      bootstrap,
      '--rate',
      '0',
      '--log-level',
      'warn',
      ...flags,
    ],
    {
      cwd: REPO,
      env: { ...process.env, ISOKAFKA_GATEWAY_SECRET: secret, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const url = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /listening on (http:\/\/[^\s]+)/.exec(out)
      if (m) resolve(m[1])
    })
    child.on('exit', (code) => reject(new Error(`gateway exited ${code}`)))
  })
  const { createGatewayToken } = await import('isokafka/gateway')
  return {
    child,
    url,
    secret,
    token: (topic, subject = 'bench') => createGatewayToken({ secret, topics: [topic], expiresInSec: 3600, subject }),
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await Promise.race([exited, sleep(15_000)])
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}

function runNode(script, argv, { input = false, onLine } = {}) {
  const child = spawn(process.execPath, [script, ...argv], {
    cwd: REPO,
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  let pending = ''
  child.stdout.on('data', (d) => {
    out += d
    pending += d
    let i
    while (onLine && (i = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, i))
      pending = pending.slice(i + 1)
    }
  })
  child.stderr.on('data', (d) => (err += d))
  const done = new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })))
  return { child, done }
}

/** A counter from the gateway's /metrics (Prometheus text), or null when it cannot be read. */
async function scrapeCounter(url, name) {
  try {
    const text = await (await fetch(new URL('/metrics', url))).text()
    const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text)
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

function lastJson(s) {
  for (const line of s.trim().split('\n').reverse()) {
    try {
      return JSON.parse(line)
    } catch {
      /* not JSON */
    }
  }
  return null
}

/** How many records a topic holds (kcat reads them all). */
export function kcatCount(bootstrap, topic) {
  const r = spawnSync('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '.'], {
    maxBuffer: 256 << 20,
  })
  return r.status === 0 ? r.stdout.length : NaN
}

/**
 * Reads every record of a topic with kcat and checks the ids of the load clients' values against the frames they
 * saw acknowledged: every acked record must be there (lost), none twice (duplicates); records of frames that were
 * never acknowledged may be there (a frame whose ack the run did not wait for).
 */
export async function kcatCheckIds(bootstrap, topic, clientResults) {
  const perConn = new Map()
  let recordsPerFrame = 0
  for (const r of clientResults) {
    recordsPerFrame = r.recordsPerFrame
    for (const [conn, frames] of r.acked) {
      let max = -1
      for (const f of frames) if (f > max) max = f
      perConn.set(conn, { frames, seen: new Uint8Array((max + 1) * recordsPerFrame) })
    }
  }
  const R = recordsPerFrame
  const perBatch = R / (clientResults[0]?.batchesPerFrame ?? 1)
  let total = 0
  let foreign = 0
  await new Promise((resolve, reject) => {
    const k = spawn('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'])
    let rest = null
    const num = (b, at, n) => {
      let v = 0
      for (let i = 0; i < n; i++) v = v * 10 + (b[at + i] - 48)
      return v
    }
    k.stdout.on('data', (chunk) => {
      const b = rest ? Buffer.concat([rest, chunk]) : chunk
      let start = 0
      for (;;) {
        const nl = b.indexOf(10, start)
        if (nl < 0) break
        total++
        // c<6>f<9>b<2>r<4>
        if (b[start] === 99 && b[start + 7] === 102) {
          const conn = num(b, start + 1, 6)
          const frame = num(b, start + 8, 9)
          const batch = num(b, start + 18, 2)
          const rec = num(b, start + 21, 4)
          const pc = perConn.get(conn)
          const idx = frame * R + batch * perBatch + rec
          if (pc && idx < pc.seen.length) pc.seen[idx] = Math.min(255, pc.seen[idx] + 1)
        } else foreign++
        start = nl + 1
      }
      rest = start < b.length ? b.subarray(start) : null
    })
    k.on('error', reject)
    k.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`))))
  })
  let acked = 0
  let lost = 0
  let duplicates = 0
  for (const { frames, seen } of perConn.values()) {
    for (const f of frames) {
      for (let i = f * R; i < (f + 1) * R; i++) {
        acked++
        if (seen[i] === 0) lost++
        else if (seen[i] > 1) duplicates += seen[i] - 1
      }
    }
  }
  return { inKafka: total, ackedChecked: acked, lost, duplicates, foreign }
}

/** One load run: `clients` WebSocket connections in `processes` client processes for `seconds`. */
export async function loadRun({
  bootstrap,
  makeTopic,
  clients,
  seconds,
  gatewayFlags = [],
  gatewayNodeFlags = [],
  gatewayBin,
  recordsPerBatch = 100,
  batchesPerFrame = 1,
  window = 4,
  partitions = 12,
}) {
  const topic = `gw-load-${clients}-${Date.now().toString(36)}`
  await makeTopic(topic, partitions)
  const gw = await startGateway({ bootstrap, flags: gatewayFlags, nodeFlags: gatewayNodeFlags, bin: gatewayBin })
  try {
    const token = await gw.token(topic)
    const processes = clients >= 500 ? 2 : 1
    const per = Math.ceil(clients / processes)
    const idleRss = procStatus(gw.child.pid, 'VmRSS')
    let connected = 0
    const kids = []
    for (let p = 0; p < processes; p++) {
      const n = Math.min(per, clients - p * per)
      const cfg = {
        url: gw.url.replace(/^http/, 'ws') + '/v1/ws',
        token,
        topic,
        partitions,
        connections: n,
        connOffset: p * per,
        seconds,
        recordsPerBatch,
        batchesPerFrame,
        window,
      }
      kids.push(
        runNode(path.join(HERE, 'clients.mjs'), [JSON.stringify(cfg)], {
          input: true,
          onLine: (l) => {
            if (l.includes('"connected"')) connected++
          },
        }),
      )
    }
    while (connected < processes) {
      if (kids.some((k) => k.child.exitCode !== null)) break
      await sleep(50)
    }
    const connectedRss = procStatus(gw.child.pid, 'VmRSS')
    try {
      fs.writeFileSync(`/proc/${gw.child.pid}/clear_refs`, '5')
    } catch {
      /* peak from the samples only */
    }
    let peakRss = connectedRss
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, procStatus(gw.child.pid, 'VmRSS'))
      } catch {
        /* gone */
      }
    }, 100)
    const cpu0 = procCpu(gw.child.pid)
    for (const k of kids) k.child.stdin.write('go\n')
    const outs = await Promise.all(kids.map((k) => k.done))
    const cpu = procCpu(gw.child.pid) - cpu0
    clearInterval(sampler)
    peakRss = Math.max(peakRss, procStatus(gw.child.pid, 'VmHWM'))
    const gatewayPauses = await scrapeCounter(gw.url, 'isokafka_gateway_pauses_total')
    const results = outs.map((o) => lastJson(o.out))
    if (results.some((r) => !r || !r.acked))
      throw new Error(
        `load clients failed: ${outs.map((o) => o.err.trim().split('\n').slice(-3).join(' ')).join(' | ')}`,
      )
    for (const r of results) r.batchesPerFrame = batchesPerFrame
    const acked = results.reduce((s, r) => s + r.ackedRecords, 0)
    const secs = Math.max(...results.map((r) => r.seconds))
    const check = await kcatCheckIds(bootstrap, topic, results)
    const lat = results.map((r) => r.frameLatencyMs)
    return {
      clients,
      seconds: secs,
      recordsPerFrame: recordsPerBatch * batchesPerFrame,
      window,
      ackedRecords: acked,
      recordsPerSec: acked / secs,
      failedRecords: results.reduce((s, r) => s + r.failedRecords, 0),
      unanswered: results.reduce((s, r) => s + r.unanswered, 0),
      refusals: results.reduce((a, r) => {
        for (const [k, v] of Object.entries(r.refusals)) a[k] = (a[k] ?? 0) + v
        return a
      }, {}),
      gatewayCpuSeconds: cpu,
      gatewayPauses,
      gatewayCpuPerMillion: cpu / (acked / 1e6),
      p50FrameAckMs: Math.max(...lat.map((l) => l.p50)),
      p99FrameAckMs: Math.max(...lat.map((l) => l.p99)),
      gatewayRssMB: { idle: idleRss / 1e6, connected: connectedRss / 1e6, peak: peakRss / 1e6 },
      ...check,
      ok: check.lost === 0 && check.duplicates === 0 && check.ackedChecked === acked,
    }
  } finally {
    await gw.stop()
  }
}

/** One client over `transport` (tcp | websocket | fetch): records/s with bench/producers/isokafka.mjs. */
export async function singleRun({
  bootstrap,
  makeTopic,
  transport,
  records,
  gatewayFlags = [],
  gatewayNodeFlags = [],
  gatewayBin,
  partitions = 6,
  clientOptions,
  warmupRecords = Number(process.env.GATEWAY_WARMUP_RECORDS ?? 100_000),
}) {
  const topic = `gw-single-${transport}-${Date.now().toString(36)}`
  await makeTopic(topic, partitions)
  const gw =
    transport === 'tcp'
      ? null
      : await startGateway({ bootstrap, flags: gatewayFlags, nodeFlags: gatewayNodeFlags, bin: gatewayBin })
  try {
    // the benchmark's isokafka producer, sending `n` records of 100 B to topic `t`
    const clientConfig = async (t, n) => ({
      bootstrap,
      topic: t,
      records: n,
      size: 100,
      api: 'produce',
      callback: 'shared',
      mode: 'throughput',
      partitions,
      transport,
      gatewayUrl: gw?.url,
      token: gw ? await gw.token(t) : undefined,
      producerOptions: clientOptions,
    })
    if (gw && warmupRecords > 0) {
      // A gateway is a long-running service, as the broker is: it is warmed up with unmeasured records first (to a
      // topic of its own), so the measured run does not pay its start-up (JIT compilation, first metadata, first
      // connections to Kafka) against a broker that was warmed up before the bench. The client is a fresh process
      // in every run, for every transport alike.
      const warm = `${topic}-warmup`
      await makeTopic(warm, partitions)
      const w = await runNode(path.join(REPO, 'bench/producers/isokafka.mjs'), [
        JSON.stringify(await clientConfig(warm, warmupRecords)),
      ]).done
      if (w.code !== 0) throw new Error(`${transport}: the gateway warm-up failed: ${w.err.trim().split('\n').pop()}`)
    }
    const cfg = await clientConfig(topic, records)
    const cpu0 = gw ? procCpu(gw.child.pid) : 0
    const { code, out, err } = await runNode(path.join(REPO, 'bench/producers/isokafka.mjs'), [JSON.stringify(cfg)])
      .done
    const r = lastJson(out)
    if (code !== 0 || !r || r.error)
      throw new Error(`${transport}: ${r?.error ?? err.trim().split('\n').slice(-3).join(' ')}`)
    const gatewayCpuSeconds = gw ? procCpu(gw.child.pid) - cpu0 : null
    const inKafka = kcatCount(bootstrap, topic)
    return {
      transport,
      records,
      recordsPerSec: r.recordsPerSec,
      acked: r.acked,
      failed: r.failed,
      p50Ms: r.latencyMs?.p50,
      p99Ms: r.latencyMs?.p99,
      clientCpuSeconds: r.phaseCpuSeconds,
      gatewayCpuSeconds,
      inKafka,
      ok: r.acked === records && inKafka === records,
    }
  } finally {
    await gw?.stop()
  }
}

async function main() {
  const { values: a } = parseArgs({
    options: {
      bootstrap: { type: 'string', default: process.env.KAFKA_BOOTSTRAP ?? '' },
      clients: { type: 'string', default: '100,1000' },
      seconds: { type: 'string', default: '10' },
      'single-records': { type: 'string', default: '200000' },
      single: { type: 'string', default: 'tcp,websocket,fetch' },
      rounds: { type: 'string', default: '1' },
      'gateway-flags': { type: 'string', default: '' },
      'gateway-node-flags': { type: 'string', default: '' },
      // another build of the gateway (an A/B: e.g. a git worktree of an older commit, built): its bin/isokafka.mjs
      'gateway-bin': { type: 'string' },
      // producer options of the single-client runs' client (JSON), e.g. '{"batchSize":65536}'
      'single-options': { type: 'string' },
      'records-per-batch': { type: 'string', default: '100' },
      window: { type: 'string', default: '4' },
      json: { type: 'boolean', default: false },
    },
  })
  if (!a.bootstrap) throw new Error('--bootstrap (or KAFKA_BOOTSTRAP) is required')
  const { createTopic } = await import('../../scripts/kafka.mjs')
  const makeTopic = (name, partitions) => createTopic(a.bootstrap, name, partitions, 1)
  const gatewayFlags = a['gateway-flags'] ? a['gateway-flags'].split(' ') : []
  const gatewayNodeFlags = a['gateway-node-flags'] ? a['gateway-node-flags'].split(' ') : []
  const out = { single: [], load: [] }
  for (let round = 1; round <= Number(a.rounds); round++) {
    for (const transport of a.single.split(',').filter(Boolean)) {
      const r = await singleRun({
        bootstrap: a.bootstrap,
        makeTopic,
        transport,
        records: Number(a['single-records']),
        gatewayFlags,
        gatewayNodeFlags,
        gatewayBin: a['gateway-bin'],
        clientOptions: a['single-options'] ? JSON.parse(a['single-options']) : undefined,
      })
      say(`round ${round} single ${transport}: ${Math.round(r.recordsPerSec)} records/s${r.ok ? '' : ' NOT OK'}`)
      out.single.push({ round, ...r })
    }
    for (const clients of a.clients.split(',').filter(Boolean).map(Number)) {
      const r = await loadRun({
        bootstrap: a.bootstrap,
        makeTopic,
        clients,
        seconds: Number(a.seconds),
        gatewayFlags,
        gatewayNodeFlags,
        gatewayBin: a['gateway-bin'],
        recordsPerBatch: Number(a['records-per-batch']),
        window: Number(a.window),
      })
      say(
        `round ${round} load ${clients}: ${Math.round(r.recordsPerSec)} records/s, ${r.gatewayCpuPerMillion.toFixed(2)} CPU-s/M, p99 ${r.p99FrameAckMs} ms, pauses ${r.gatewayPauses}, peak RSS ${r.gatewayRssMB.peak.toFixed(0)} MB, lost ${r.lost} dup ${r.duplicates}${r.ok ? '' : ' NOT OK'} ${JSON.stringify(r.refusals)}`,
      )
      out.load.push({ round, ...r })
    }
  }
  if (a.json) console.log(JSON.stringify(out))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
