// Trace context into Kafka record headers through the OTel propagation API, so any propagator (W3C trace context by
// default in the SDKs, or B3, or a composite) writes what a consumer's matching propagator extracts.
import type { Context, TextMapPropagator, TextMapSetter } from '@opentelemetry/api'
import type { HeaderValue, RecordHeaders } from '../../src/index.js'

interface Injector {
  inject(context: Context, carrier: Record<string, string>, setter?: TextMapSetter<Record<string, string>>): void
}

/**
 * The record's headers with the propagator's fields added (e.g. `traceparent`, `tracestate`). A header the caller
 * already set under the same name (compared without case, as propagators treat their field names) is kept and that
 * field is not added. Returns the record's own headers object when nothing was added; never mutates it.
 */
export function injectHeaders(
  propagator: Injector | TextMapPropagator,
  context: Context,
  headers: RecordHeaders | undefined,
): RecordHeaders | undefined {
  const fields: Record<string, string> = {}
  propagator.inject(context, fields, setter)
  let added: Array<[string, string]> | undefined
  for (const name in fields) {
    if (has(headers, name)) continue
    ;(added ??= []).push([name, fields[name]!])
  }
  if (!added) return headers
  if (headers === undefined) return Object.fromEntries(added)
  if (isArray(headers)) return [...headers, ...added]
  const out: Record<string, HeaderValue> = { ...headers }
  for (const [k, v] of added) out[k] = v
  return out
}

const setter: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    carrier[key] = value
  },
}

function isArray(h: RecordHeaders): h is ReadonlyArray<readonly [string, HeaderValue]> {
  return Array.isArray(h)
}

function has(headers: RecordHeaders | undefined, name: string): boolean {
  if (headers === undefined) return false
  const lower = name.toLowerCase()
  if (isArray(headers)) {
    for (const h of headers) if (typeof h?.[0] === 'string' && h[0].toLowerCase() === lower) return true
    return false
  }
  for (const k in headers) if (k.toLowerCase() === lower) return true
  return false
}
