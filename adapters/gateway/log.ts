/**
 * Structured logging for the gateway: entries `{ ts, level, msg, ...fields }` filtered by level. Callers pass fields
 * they chose (a path, an address, a code), never a raw URL or header: tokens travel in query strings and headers,
 * and must never reach a log. `safePath` strips the query from a request target.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface GatewayLogEntry {
  ts: string
  level: Exclude<LogLevel, 'silent'>
  msg: string
  [field: string]: unknown
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface GatewayLog {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export function createGatewayLog(options: {
  logger?: (entry: GatewayLogEntry) => void
  logLevel?: LogLevel
  log?: (line: string) => void
}): GatewayLog {
  const min = RANK[options.logLevel ?? 'info'] ?? RANK.info
  const { logger, log } = options
  const emit = (level: GatewayLogEntry['level'], msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min || (!logger && !log)) return
    const entry: GatewayLogEntry = { ts: new Date().toISOString(), level, msg, ...(fields ?? {}) }
    try {
      logger?.(entry)
      if (log) {
        const extra = fields
          ? Object.entries(fields)
              .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join('')
          : ''
        log(`${msg}${extra}`)
      }
    } catch {
      // a logger that throws must not take a request down with it
    }
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  }
}

/** The path of a request target, without its query (which may hold a token), at most 200 characters. */
export function safePath(url: string | undefined): string {
  const raw = url ?? '/'
  const q = raw.search(/[?#]/)
  return (q >= 0 ? raw.slice(0, q) : raw).slice(0, 200)
}

/** An error for a log line: name and message (no stack unless debug wants it). */
export function errorFields(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; message?: string; code?: string; stack?: string }
  return {
    error: e?.name ?? 'Error',
    message: String(e?.message ?? err).slice(0, 500),
    ...(e?.code ? { code: e.code } : {}),
  }
}

export interface GatewayServiceLogEntry {
  ts?: string
  level: Exclude<LogLevel, 'silent'>
  msg: string
  [field: string]: unknown
}

const LEVEL_RANK = RANK

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error)
    return {
      name: value.name,
      message: value.message,
      ...((value as { code?: unknown }).code !== undefined ? { code: (value as { code?: unknown }).code } : {}),
    }
  if (value instanceof Uint8Array) return `<${value.length} bytes>`
  return value
}

/**
 * A `logger` for createGateway: one JSON line per entry (`{"ts":...,"level":...,"msg":...,...fields}`), entries
 * below `level` dropped. Never throws (a field that cannot be serialized is replaced).
 */
export function jsonLogger(
  level: LogLevel,
  write: (line: string) => void = (s) => void process.stderr.write(s),
): (entry: GatewayServiceLogEntry) => void {
  const min = LEVEL_RANK[level] ?? LEVEL_RANK.info
  return (entry) => {
    const rank = LEVEL_RANK[entry.level] ?? LEVEL_RANK.info
    if (rank < min || min >= LEVEL_RANK.silent) return
    const { ts, level: lv, msg, ...fields } = entry
    let line: string
    try {
      line = JSON.stringify({ ts: ts ?? new Date().toISOString(), level: lv, msg, ...fields }, jsonSafe)
    } catch {
      line = JSON.stringify({
        ts: ts ?? new Date().toISOString(),
        level: lv,
        msg: String(msg),
        note: 'fields could not be serialized',
      })
    }
    write(`${line}\n`)
  }
}
