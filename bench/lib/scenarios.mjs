// The benchmark's scenarios. Throughput scenarios are the matrix record size × acks × partitions × batch size (linger
// 5 ms everywhere); three special ones measure what the matrix cannot: a client-bound run against an acking sink,
// send→ack latency at a paced 10k records/s, and memory with 1M records queued at once.

// isokafka runs in three ways: `isokafka` drives produce(record, callback) as ProducerPerformance drives Java's
// send(record, callback) (awaiting ready() when the buffer is full, where Java's send blocks), with one callback for
// every record; `isokafka-closure` the same with a new closure per record (headline and sink scenarios only);
// `isokafka-send` drives the promise API, send() per record with a window of unsettled sends.
export const PRODUCERS = [
  'isokafka',
  'isokafka-closure',
  'isokafka-send',
  'java',
  'franz-go',
  'librdkafka',
  'platformatic',
  'kafkajs',
]
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
            producers: PRODUCERS.filter(
              (name) => name !== 'isokafka-closure' || `${s.label}-${a.label}-p${p}-${b.label}` === HEADLINE_ID,
            ),
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
  return [...throughputScenarios(), ...windowScenarios(), ...specialScenarios(), ...codecScenarios()].map(withTitle)
}

export function withTitle(s) {
  return { ...s, title: `${s.records.toLocaleString('en')} × ${s.what}` }
}

/** The default run: the issue's headline scenario plus the ones that move the most, ~10–15 min with 3 rounds. */
export const DEFAULT_IDS = [
  '100B-all-p6-16k',
  '100B-all-p1-16k',
  '100B-all-p6-1m',
  '100B-acks1-p6-16k',
  '1KiB-all-p6-16k',
  '1KiB-all-p6-1m',
  'window-1k',
  'window-4k',
  'window-16k',
  'window-64k',
  'sink',
  'latency',
  'memory',
  'txn',
]

/** Pick scenarios: exact ids, or patterns with `*` (e.g. `100B-*`, `*-p6-*`), comma separated. */
export function selectScenarios(spec, catalogue) {
  const picked = []
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const re = new RegExp('^' + part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$')
    const hits = catalogue.filter((s) => re.test(s.id))
    if (hits.length === 0)
      throw new Error(`no scenario matches "${part}"; known: ${catalogue.map((s) => s.id).join(', ')}`)
    for (const h of hits) if (!picked.includes(h)) picked.push(h)
  }
  return picked
}

// ---------------------------------------------------------------------------------------------------------------
// Compression codecs: isokafka beside franz-go and Java, each with the same codec at its default level (zstd 3; lz4's
// fast mode for isokafka and franz-go), on realistic records: JSON events of 290–1,000 bytes (mean 609) from one payload file
// (isokafka and franz-go cycle through it, Java's ProducerPerformance picks from it at random). The ratio is the
// topic's log bytes on the broker over the raw value bytes. `none` is the baseline.
export const CODECS = ['none', 'snappy', 'lz4', 'zstd']
export const CODEC_PAYLOADS = 10_000

export function codecScenarios() {
  return CODECS.map((codec) => ({
    id: `codec-${codec}`,
    kind: 'throughput',
    codec,
    what: `JSON events of 290–1,000 B, ${codec === 'none' ? 'no compression' : `${codec}${codec === 'zstd' ? ' level 3' : ''}`}, acks=all, idempotent, 6 partitions, batch 16 KiB`,
    records: 200_000,
    size: 609, // the payloads' mean (bytes), for MB/s
    acks: 'all',
    idempotent: true,
    partitions: 6,
    batchSize: 16384,
    lingerMs: 5,
    bufferMemory: 32 * 1024 * 1024,
    producers: ['isokafka', 'franz-go', 'java'],
  }))
}

/** `n` JSON events of 290–1,000 bytes, one per line: ids, users, pages, devices, a text of common words. Deterministic. */
export function eventPayloads(n = CODEC_PAYLOADS, seed = 42) {
  let s = seed >>> 0
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (k) => Math.floor(rnd() * k)
  const pick = (a) => a[int(a.length)]
  const hex = (k) => Array.from({ length: k }, () => int(16).toString(16)).join('')
  const types = ['page_view', 'click', 'add_to_cart', 'purchase', 'search', 'signup', 'logout']
  const pages = ['/', '/products', '/products/item', '/cart', '/checkout', '/account', '/search', '/blog/post']
  const words =
    'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(
      ' ',
    )
  const oses = ['iOS 18.1', 'Android 15', 'Windows 11', 'macOS 15.2', 'Linux']
  const browsers = ['Chrome 131', 'Safari 18', 'Firefox 133', 'Edge 131']
  const countries = ['DE', 'FR', 'US', 'GB', 'JP', 'BR', 'IN', 'NL']
  const out = []
  for (let i = 0; i < n; i++) {
    const target = 200 + int(800)
    const ev = {
      eventId: `${hex(8)}-${hex(4)}-4${hex(3)}-${hex(4)}-${hex(12)}`,
      type: pick(types),
      ts: 1_764_000_000_000 + i * 37 + int(1000),
      userId: `user-${int(100_000)}`,
      sessionId: hex(16),
      page: `${pick(pages)}?ref=${pick(['email', 'ad', 'direct', 'social'])}&id=${int(10_000)}`,
      device: {
        os: pick(oses),
        browser: pick(browsers),
        screen: pick(['390x844', '1920x1080', '1440x900', '412x915']),
      },
      geo: {
        country: pick(countries),
        lat: Math.round(rnd() * 180_000 - 90_000) / 1000,
        lon: Math.round(rnd() * 360_000 - 180_000) / 1000,
      },
      ...(rnd() < 0.3 ? { amount: int(50_000) / 100, currency: pick(['EUR', 'USD', 'GBP']) } : {}),
      text: '',
    }
    let line = JSON.stringify(ev)
    const text = []
    while (line.length + text.join(' ').length < target) text.push(pick(words))
    ev.text = text.join(' ')
    line = JSON.stringify(ev)
    out.push(line)
  }
  return out
}
