/**
 * What REST proxies need on both sides (the fetch transport and the gateway's REST endpoints): base64 for binary
 * payloads, and a splitter for concatenated JSON values as REST Proxy v3 streams them. Runtime-free.
 */
export { fromBase64 } from '../../src/base64.js'

/**
 * Bytes as base64 (src/base64.ts's toBase64, written out here): the built package's main entry imports src/base64.ts's
 * chunk, so a bundler counts that chunk as loaded up front, and the fetch bundle carried toBase64 for the lazy REST
 * Proxy modes that alone call it. Here it loads with them. (test/unit/gateway-protocol.test.ts checks it.)
 */
export function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

/**
 * Splits concatenated JSON values (`{...}{...}` or one per line), as REST Proxy v3 streams records and responses.
 * Returns the parsed values; throws SyntaxError on malformed input, RangeError past `maxValues` values (checked before
 * each is parsed, so a body of a million `{}` costs no million objects).
 */
export function splitJsonStream(text: string, maxValues = Infinity): unknown[] {
  const out: unknown[] = []
  let depth = 0
  let inString = false
  let start = -1
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) {
      if (depth === 0) throw new SyntaxError(`a JSON stream holds objects or arrays, found a string at ${i}`)
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === 0) start = i
      depth++
    } else if (c === 0x7d || c === 0x5d) {
      depth--
      if (depth < 0) throw new SyntaxError('unbalanced JSON stream')
      if (depth === 0) {
        if (out.length >= maxValues) throw new RangeError(`more than ${maxValues} values in the JSON stream`)
        out.push(JSON.parse(text.slice(start, i + 1)))
        start = -1
      }
    } else if (depth === 0 && !(c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x2c)) {
      throw new SyntaxError(`unexpected character at ${i} in a JSON stream`)
    }
  }
  if (depth !== 0 || inString) throw new SyntaxError('truncated JSON stream')
  return out
}
