// The benchmark's scenarios. Throughput scenarios are the matrix record size × acks × partitions × batch size (linger
// 5 ms everywhere); three special ones measure what the matrix cannot: a client-bound run against an acking sink,
// send→ack latency at a paced 10k records/s, and memory with 1M records queued at once.

// isokafka runs in three ways: `isokafka` drives produce(record, callback) as ProducerPerformance drives Java's
// send(record, callback) (awaiting ready() when the buffer is full, where Java's send blocks), with one callback for
// every record; `isokafka-closure` the same with a new closure per record (headline and sink scenarios only);
// `isokafka-send` drives the promise API, send() per record with a window of unsettled sends.
export const PRODUCERS = ['isokafka', 'isokafka-closure', 'isokafka-send', 'java', 'franz-go', 'librdkafka', 'platformatic', 'kafkajs']
/** The scenario the issue's throughput targets are checked on (100 B, acks=all, idempotent, Java's defaults). */
export const HEADLINE_ID = '100B-all-p6-16k'

const SIZES = [
  { label: '100B', size: 100, records: 1_000_000 },
  { label: '1KiB', size: 1024, records: 200_000 },
]
const ACKS = [
  { label: 'all', acks: 'all', idempotent: true, text: 'acks=all, idempotent' },
  { label: 'acks1', acks: 1, idempotent: false, text: 'acks=1' },
]
const PARTITIONS = [1, 6]
const BATCHES = [
  { label: '16k', bytes: 16384, text: '16 KiB' },
  { label: '1m', bytes: 1048576, text: '1 MiB' },
]

/** Every throughput scenario: id like `100B-all-p6-16k` (size-acks-partitions-batch). */
export function throughputScenarios() {
  const out = []
  for (const s of SIZES) {
    for (const a of ACKS) {
      for (const p of PARTITIONS) {
        for (const b of BATCHES) {
          out.push({
            id: `${s.label}-${a.label}-p${p}-${b.label}`,
            kind: 'throughput',
            what: `${s.label === '100B' ? '100 B' : '1 KiB'}, ${a.text}, ${p} partition${p > 1 ? 's' : ''}, batch ${b.text}`,
            records: s.records,
            size: s.size,
            acks: a.acks,
            idempotent: a.idempotent,
            partitions: p,
            batchSize: b.bytes,
            lingerMs: 5,
            bufferMemory: 32 * 1024 * 1024,
            producers: PRODUCERS.filter((name) => name !== 'isokafka-closure' || `${s.label}-${a.label}-p${p}-${b.label}` === HEADLINE_ID),
          })
        }
      }
    }
  }
  return out
}

/** The headline scenario for isokafka alone with different numbers of sends outstanding (the app's window). */
export function windowScenarios() {
  const base = throughputScenarios().find((s) => s.id === HEADLINE_ID)
  return [1024, 4096, 16384, 65536].map((w) => ({
    ...base,
    id: `window-${w >= 1024 ? `${w / 1024}k` : w}`,
    kind: 'window',
    window: w,
    what: `${base.what}, isokafka send() with at most ${w.toLocaleString('en')} sends outstanding`,
    producers: ['isokafka-send'],
  }))
}

export function specialScenarios() {
  return [
    {
      id: 'sink',
      kind: 'sink',
      what: '100 B, acks=all, idempotent, 6 partitions, batch 16 KiB, against a sink that acks at once (client-bound)',
      records: 1_000_000,
      size: 100,
      acks: 'all',
      idempotent: true,
      partitions: 6,
      batchSize: 16384,
      lingerMs: 5,
      bufferMemory: 32 * 1024 * 1024,
      producers: ['isokafka', 'isokafka-closure', 'isokafka-send', 'kafkajs'],
    },
    {
      id: 'latency',
      kind: 'latency',
      what: '100 B paced at 10,000 records/s, acks=all, idempotent, 6 partitions, linger 5 ms, batch 16 KiB',
      records: 100_000,
      rate: 10_000,
      size: 100,
      acks: 'all',
      idempotent: true,
      partitions: 6,
      batchSize: 16384,
      lingerMs: 5,
      bufferMemory: 32 * 1024 * 1024,
      producers: ['isokafka', 'java'],
    },
    {
      id: 'memory',
      kind: 'memory',
      what: '100 B, bufferMemory 32 MiB, acks=all, idempotent, 6 partitions: produce() as fast as the buffer takes them (isokafka), every send() at once (isokafka-send)',
      records: 1_000_000,
      maxSeconds: 30, // the peak comes while queueing; the drain gets this long before the run reports and stops
      size: 100,
      acks: 'all',
      idempotent: true,
      partitions: 6,
      batchSize: 16384,
      lingerMs: 5,
      bufferMemory: 32 * 1024 * 1024,
      producers: ['isokafka', 'isokafka-send'],
    },
    {
      id: 'txn',
      kind: 'transactions',
      what: '100 B, transactions of 1,000 records (commit per transaction), 6 partitions, linger 5 ms, batch 16 KiB',
      records: 200_000,
      txnRecords: 1000,
      size: 100,
      acks: 'all',
      idempotent: true,
      partitions: 6,
      batchSize: 16384,
      lingerMs: 5,
      bufferMemory: 32 * 1024 * 1024,
      producers: ['isokafka', 'java'],
    },
  ]
}

/** Every scenario, with `title` = record count + what it is (call again after changing `records`). */
export function allScenarios() {
  return [...throughputScenarios(), ...windowScenarios(), ...specialScenarios()].map(withTitle)
}

export function withTitle(s) {
  return { ...s, title: `${s.records.toLocaleString('en')} × ${s.what}` }
}

/** The default run: the issue's headline scenario plus the ones that move the most, ~10–15 min with 3 rounds. */
export const DEFAULT_IDS = [
  '100B-all-p6-16k', '100B-all-p1-16k', '100B-all-p6-1m', '100B-acks1-p6-16k', '1KiB-all-p6-16k', '1KiB-all-p6-1m',
  'window-1k', 'window-4k', 'window-16k', 'window-64k', 'sink', 'latency', 'memory',
]

/** Pick scenarios: exact ids, or patterns with `*` (e.g. `100B-*`, `*-p6-*`), comma separated. */
export function selectScenarios(spec, catalogue) {
  const picked = []
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const re = new RegExp('^' + part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$')
    const hits = catalogue.filter((s) => re.test(s.id))
    if (hits.length === 0) throw new Error(`no scenario matches "${part}"; known: ${catalogue.map((s) => s.id).join(', ')}`)
    for (const h of hits) if (!picked.includes(h)) picked.push(h)
  }
  return picked
}
