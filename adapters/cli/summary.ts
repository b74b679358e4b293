// What `isokafka produce` counts and prints: records and bytes acknowledged, failures by error code (with the first
// message of each), a progress line on a terminal.

export class Tally {
  /** Records handed to the producer. */
  sent = 0
  acked = 0
  ackedBytes = 0
  /** Every failure: delivery errors, records the producer refused at once, input that was no record. */
  failed = 0
  readonly errors = new Map<string, { count: number; first: string }>()
  private pending = 0
  private allSettled: (() => void) | null = null

  /** A record went to the producer: its callback calls delivered() or undelivered(). */
  handed(): void {
    this.sent++
    this.pending++
  }

  delivered(bytes: number): void {
    this.acked++
    this.ackedBytes += bytes
    if (--this.pending === 0) this.allSettled?.()
  }

  undelivered(err: unknown): void {
    this.fail(err)
    if (--this.pending === 0) this.allSettled?.()
  }

  /** A failure with no callback to wait for. */
  fail(err: unknown): void {
    this.failed++
    const e = err as { code?: unknown; message?: unknown } | null
    const code = e && typeof e.code === 'string' ? e.code : 'ERROR'
    const message = e && typeof e.message === 'string' ? e.message : String(err)
    const entry = this.errors.get(code)
    if (entry) entry.count++
    else this.errors.set(code, { count: 1, first: message })
  }

  /** Resolves once every record handed to the producer got its callback. */
  settled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => (this.allSettled = resolve))
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`
}

/**
 * The summary, for stderr:
 *   isokafka produce: 100000 records (4.6 MiB) acknowledged in 1.52 s: 65789 records/s, 3.0 MiB/s; 0 failed
 * and one line per error code when something failed:
 *   failed RECORD_TOO_LARGE: 2 (first: ...)
 */
export function summaryLines(command: string, t: Tally, seconds: number): string {
  const s = Math.max(seconds, 1e-3)
  const lines = [
    `isokafka ${command}: ${t.acked} records (${formatBytes(t.ackedBytes)}) acknowledged in ${seconds.toFixed(2)} s: ` +
      `${Math.round(t.acked / s)} records/s, ${formatBytes(Math.round(t.ackedBytes / s))}/s; ${t.failed} failed`,
  ]
  for (const [code, { count, first }] of [...t.errors].sort((a, b) => b[1].count - a[1].count)) {
    lines.push(`  failed ${code}: ${count} (first: ${first})`)
  }
  return lines.join('\n') + '\n'
}

/** A progress line on stderr, rewritten in place every second; only on a terminal. */
export function startProgress(
  stderr: NodeJS.WritableStream & { isTTY?: boolean },
  t: Tally,
  started: number,
): () => void {
  if (!stderr.isTTY) return () => {}
  let shown = false
  const timer = setInterval(() => {
    const s = (performance.now() - started) / 1000
    stderr.write(
      `\r\x1b[K${t.sent} sent, ${t.acked} acknowledged, ${t.failed} failed, ${Math.round(t.acked / s)} records/s`,
    )
    shown = true
  }, 1000)
  timer.unref()
  return () => {
    clearInterval(timer)
    if (shown) stderr.write('\r\x1b[K')
  }
}
