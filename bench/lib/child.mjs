// Helpers shared by the Node producer processes of the benchmark (bench/producers/*.mjs). Each producer runs as its
// own child process (so CPU and RSS are its own): it reads one JSON config from argv[2], produces, and prints one
// JSON result line on stdout. Nothing here imports a Kafka client.
import fs from 'node:fs'

/** The run's config: { bootstrap, topic, records, size, acks, idempotent, lingerMs, batchSize, bufferMemory, partitions, window, rate, mode }. */
export function readConfig() {
  const raw = process.argv[2]
  if (!raw) {
    process.stderr.write("usage: node <producer>.mjs '<json config>'\n")
    process.exit(2)
  }
  const c = JSON.parse(raw)
  return {
    acks: 'all',
    idempotent: true,
    lingerMs: 5,
    batchSize: 16384,
    bufferMemory: 32 * 1024 * 1024,
    partitions: 1,
    window: 65536,
    rate: 0,
    ...c,
    records: Number(c.records),
    size: Number(c.size),
  }
}

/** The same payload bytes in every client: lowercase letters, `size` long. */
export function payload(size) {
  const v = new Uint8Array(size)
  for (let i = 0; i < size; i++) v[i] = 97 + (i % 26)
  return v
}

/**
 * avg / p50 / p99 / max of latencies in ms; entries < 0 (not acknowledged) are ignored. Percentiles come from a
 * log-linear histogram (buckets 0.1 % wide above 10 µs), not a sort: sorting a million doubles would cost the
 * producer process ~0.3 s of CPU after the run and show up in its CPU seconds.
 */
export function latencySummary(lat, count = lat.length) {
  const SCALE = 1000 // buckets per e-fold: log(x)*1000 → 0.1 % steps
  const MIN = 0.01 // ms: everything below shares bucket 0
  const buckets = new Uint32Array(Math.ceil(Math.log(600_000 / MIN) * SCALE) + 2) // up to 10 min
  let n = 0
  let sum = 0
  let max = 0
  for (let i = 0; i < count; i++) {
    const x = lat[i]
    if (!(x >= 0)) continue
    n++
    sum += x
    if (x > max) max = x
    const b = x <= MIN ? 0 : Math.min(buckets.length - 1, 1 + Math.floor(Math.log(x / MIN) * SCALE))
    buckets[b]++
  }
  if (n === 0) return { avg: 0, p50: 0, p99: 0, max: 0 }
  const pct = (p) => {
    const rank = Math.min(n, Math.floor((p / 100) * n) + 1)
    let seen = 0
    for (let b = 0; b < buckets.length; b++) {
      seen += buckets[b]
      if (seen >= rank) return b === 0 ? MIN : Math.min(max, MIN * Math.exp((b - 0.5) / SCALE))
    }
    return max
  }
  return { avg: sum / n, p50: pct(50), p99: pct(99), max }
}

/** CPU seconds (user + system) of this process since `since` (a process.cpuUsage() value). */
export function cpuSecondsSince(since) {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}

/** Current and peak (high-water) RSS in bytes from /proc/self/status. */
export function rssNow() {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8')
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
  } catch {
    return { rss: process.memoryUsage().rss, hwm: NaN }
  }
}

/** Reset the kernel's peak-RSS counter (VmHWM) to the current RSS (Linux: write 5 to /proc/self/clear_refs). */
export function resetPeakRss() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

/** Print the result line (the parent takes the last stdout line that starts with '{') and exit. */
export function finish(result) {
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(result.failed > 0 || result.acked < result.records ? 1 : 0)
}

/** Report a failure as a result line so the parent can show it. */
export function fail(client, err) {
  process.stdout.write(JSON.stringify({ client, error: String(err?.stack ?? err) }) + '\n')
  process.exit(1)
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
