import { parseArgs, type ParseArgsConfig } from 'node:util'

/** What a command reads and writes: the process's by default, pipes in tests. */
export interface CliIo {
  argv: string[]
  env: Record<string, string | undefined>
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

export function processIo(argv: string[]): CliIo {
  return { argv, env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }
}

/** Bad flags or input the user must fix: exit code 2 with the message (and a pointer to --help). */
export class UsageError extends Error {
  override name = 'UsageError'
}

type Options = NonNullable<ParseArgsConfig['options']>
export type Parsed = { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }

/** node:util parseArgs, strict, with its errors turned into UsageError. */
export function parseFlags(argv: string[], options: Options, command: string): Parsed {
  // `--throughput -1` (Java's spelling): parseArgs takes a value that starts with '-' only as `--throughput=-1`
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const next = argv[i + 1]
    if (
      a.startsWith('--') &&
      !a.includes('=') &&
      options[a.slice(2)]?.type === 'string' &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      args.push(`${a}=${next}`)
      i++
    } else args.push(a)
  }
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true })
    return { values: values as Parsed['values'], positionals }
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}`)
  }
}

export function str(values: Parsed['values'], name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

export function list(values: Parsed['values'], name: string): string[] {
  const v = values[name]
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
}

/** An integer flag (undefined when absent). */
export function intFlag(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`)
  return n
}

export function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || Number.isNaN(n))
    throw new UsageError(`--${name} must be a number, got ${JSON.stringify(value)}`)
  return n
}

/**
 * Delimiters as kcat writes them: `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH` escapes; anything else is taken as UTF-8.
 */
export function unescapeDelimiter(flag: string, text: string): Uint8Array {
  const bytes: number[] = []
  const utf8 = new TextEncoder()
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c !== '\\' || i + 1 >= text.length) {
      bytes.push(...utf8.encode(c))
      continue
    }
    const e = text[++i]!
    if (e === 'n') bytes.push(0x0a)
    else if (e === 'r') bytes.push(0x0d)
    else if (e === 't') bytes.push(0x09)
    else if (e === '0') bytes.push(0x00)
    else if (e === '\\') bytes.push(0x5c)
    else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(0x5c, ...utf8.encode(e))
  }
  if (bytes.length === 0) throw new UsageError(`${flag}: the delimiter is empty`)
  return Uint8Array.from(bytes)
}

/**
 * Java-style multi-value options (`--producer-props a=1 b=2 --topic t`): everything after the flag up to the next
 * token starting with `-` belongs to it. Returns the argv without them and the values per flag.
 */
export function takeMultiValued(
  argv: string[],
  flags: readonly string[],
): { rest: string[]; taken: Map<string, string[]> } {
  const rest: string[] = []
  const taken = new Map<string, string[]>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const eq = a.indexOf('=')
    const name = a.startsWith('--') && eq > 0 && flags.includes(a.slice(0, eq)) ? a.slice(0, eq) : a
    if (!flags.includes(name)) {
      rest.push(a)
      continue
    }
    const values = taken.get(name) ?? []
    if (name !== a) values.push(a.slice(eq + 1))
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) values.push(argv[++i]!)
    if (values.length === 0) throw new UsageError(`${name} needs at least one PROP=VALUE`)
    taken.set(name, values)
  }
  return { rest, taken }
}

/** `k=v` pairs (split at the first `=`). */
export function keyValues(flag: string, pairs: readonly string[]): Array<[string, string]> {
  return pairs.map((p) => {
    const eq = p.indexOf('=')
    if (eq <= 0) throw new UsageError(`${flag}: expected NAME=VALUE, got ${JSON.stringify(p)}`)
    return [p.slice(0, eq).trim(), p.slice(eq + 1)]
  })
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
