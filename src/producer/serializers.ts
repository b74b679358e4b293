import { SerializationError } from '../errors.js'

/** Turns a key or value into bytes (or null). Runs synchronously inside `send()`, like Java's Serializer. */
export type Serializer<T> = (data: T, topic: string) => Uint8Array | null

const utf8 = new TextEncoder()

/** The default: `Uint8Array` passes through, strings become UTF-8, `null`/`undefined` stay null. */
export const defaultSerializer: Serializer<Uint8Array | string | null | undefined> = (data) => {
  if (data === null || data === undefined) return null
  if (data instanceof Uint8Array) return data
  if (typeof data === 'string') return utf8.encode(data)
  throw new SerializationError(`the default serializer takes Uint8Array, string or null, not ${describe(data)}`)
}

/** JSON.stringify then UTF-8. `undefined` and `null` become a null key/value (a tombstone for values). */
export const jsonSerializer: Serializer<unknown> = (data) => {
  if (data === null || data === undefined) return null
  const text = JSON.stringify(data)
  if (text === undefined) throw new SerializationError(`value of type ${describe(data)} cannot be serialized as JSON`)
  return utf8.encode(text)
}

/** UTF-8 strings only. */
export const stringSerializer: Serializer<string | null> = (data) => (data === null ? null : utf8.encode(data))

function describe(data: unknown): string {
  if (data === null) return 'null'
  if (typeof data === 'object') return (data as object).constructor?.name ?? 'object'
  return typeof data
}

/** Runs a serializer and checks its result, wrapping anything it throws into a typed SerializationError. */
export function runSerializer<T>(
  serializer: Serializer<T>,
  data: T,
  topic: string,
  what: 'key' | 'value',
): Uint8Array | null {
  let out: unknown
  try {
    out = serializer(data, topic)
  } catch (cause) {
    if (cause instanceof SerializationError) throw cause
    throw new SerializationError(`the ${what} serializer failed for topic ${topic}`, { cause })
  }
  if (out === null || out instanceof Uint8Array) return out
  throw new SerializationError(`the ${what} serializer returned ${describe(out)}, expected Uint8Array or null`)
}
