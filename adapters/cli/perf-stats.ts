// The statistics and output lines of Java's ProducerPerformance (kafka-producer-perf-test), kept to its format so the
// two tools' results read and parse the same:
//
//   window:  "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency."
//   total:   "%d%s records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency,
//             %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th."        (one line; %s is "" or " steady state")
//
// As there: latencies are whole milliseconds from just before the send to the callback; "MB" is 2^20 bytes; only
// successful records count; a window line is printed from the callback that finds the window older than the
// reporting interval; at most 500,000 latencies are kept (every k-th record) and percentile p is the value at index
// floor(p × n) of the sorted samples.

/** Java's Formatter rounds the shortest decimal form of a double half-up; toFixed rounds the exact binary value. */
export function javaFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : x < 0 ? '-Infinity' : 'NaN'
  const s = String(Math.abs(x))
  if (/e/i.test(s)) return x.toFixed(digits)
  const [intPart, frac = ''] = s.split('.') as [string, string?]
  if (frac.length <= digits) return `${x < 0 ? '-' : ''}${intPart}${digits > 0 ? '.' + frac.padEnd(digits, '0') : ''}`
  // round the decimal string half-up at `digits`
  const kept = (intPart + frac.slice(0, digits)).split('').map(Number)
  if (Number(frac[digits]) >= 5) {
    let i = kept.length - 1
    for (; i >= 0; i--) {
      if (kept[i]! < 9) {
        kept[i]!++
        break
      }
      kept[i] = 0
    }
    if (i < 0) kept.unshift(1)
  }
  const all = kept.join('')
  const cut = all.length - digits
  const body = digits > 0 ? `${all.slice(0, cut)}.${all.slice(cut)}` : all
  const negative = x < 0 && /[1-9]/.test(body)
  return `${negative ? '-' : ''}${body}`
}

export class PerfStats {
  private readonly start: number
  private readonly latencies: Int32Array
  private readonly sampling: number
  private iteration = 0
  private index = 0
  private count = 0
  private bytes = 0
  private maxLatency = 0
  private totalLatency = 0
  private windowCount = 0
  private windowMaxLatency = 0
  private windowTotalLatency = 0
  private windowBytes = 0
  private windowStart: number
  private suppressed = false

  constructor(
    numRecords: number,
    private readonly steadyState: boolean,
    private readonly reportingIntervalMs: number,
    private readonly print: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.start = this.now()
    this.windowStart = this.start
    this.sampling = Math.floor(numRecords / Math.min(numRecords, 500000))
    this.latencies = new Int32Array(Math.floor(numRecords / this.sampling) + 1)
  }

  get recorded(): number {
    return this.count
  }

  suppressPrinting(): void {
    this.suppressed = true
  }

  record(latency: number, bytes: number, time: number): void {
    this.count++
    this.bytes += bytes
    this.totalLatency += latency
    if (latency > this.maxLatency) this.maxLatency = latency
    this.windowCount++
    this.windowBytes += bytes
    this.windowTotalLatency += latency
    if (latency > this.windowMaxLatency) this.windowMaxLatency = latency
    if (this.iteration % this.sampling === 0 && this.index < this.latencies.length)
      this.latencies[this.index++] = latency
    if (time - this.windowStart >= this.reportingIntervalMs) {
      if (this.steadyState && this.count === this.windowCount) this.print('In steady state.')
      if (!this.suppressed) this.printWindow()
      this.newWindow()
    }
    this.iteration++
  }

  printWindow(): void {
    const elapsed = this.now() - this.windowStart
    const recsPerSec = (1000 * this.windowCount) / elapsed
    const mbPerSec = (1000 * this.windowBytes) / elapsed / (1024 * 1024)
    this.print(
      `${this.windowCount} records sent, ${javaFixed(recsPerSec, 1)} records/sec (${javaFixed(mbPerSec, 2)} MB/sec), ` +
        `${javaFixed(this.windowTotalLatency / this.windowCount, 1)} ms avg latency, ${javaFixed(this.windowMaxLatency, 1)} ms max latency.`,
    )
  }

  private newWindow(): void {
    this.windowStart = this.now()
    this.windowCount = 0
    this.windowMaxLatency = 0
    this.windowTotalLatency = 0
    this.windowBytes = 0
  }

  printTotal(): void {
    const elapsed = this.now() - this.start
    const recsPerSec = (1000 * this.count) / elapsed
    const mbPerSec = (1000 * this.bytes) / elapsed / (1024 * 1024)
    const [p50, p95, p99, p999] = this.percentiles([0.5, 0.95, 0.99, 0.999])
    this.print(
      `${this.count}${this.steadyState ? ' steady state' : ''} records sent, ${javaFixed(recsPerSec, 6)} records/sec ` +
        `(${javaFixed(mbPerSec, 2)} MB/sec), ${javaFixed(this.totalLatency / this.count, 2)} ms avg latency, ` +
        `${javaFixed(this.maxLatency, 2)} ms max latency, ${p50} ms 50th, ${p95} ms 95th, ${p99} ms 99th, ${p999} ms 99.9th.`,
    )
  }

  private percentiles(ps: number[]): number[] {
    const size = Math.min(this.index, this.latencies.length)
    // Java would fail on no samples (every record failed); print zeros instead
    if (size === 0) return ps.map(() => 0)
    const sorted = this.latencies.subarray(0, size).sort()
    return ps.map((p) => sorted[Math.floor(p * size)]!)
  }
}
