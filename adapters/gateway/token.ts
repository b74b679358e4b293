/**
 * Gateway tokens: compact JWS (JWT) with HMAC-SHA256 ("HS256"), made and checked with Web Crypto only, so the same
 * code mints tokens in Node, Workers and Deno. Claims: `sub` (who), `iat`/`exp` (seconds), `topics` (the allow-list:
 * exact names, `prefix*`, or `*`), optional `nbf`. Any JWT library can mint a compatible token.
 */

export type TokenSecret = string | Uint8Array

export interface CreateGatewayTokenOptions {
  secret: TokenSecret
  /** Topics this token may produce to: exact names, `prefix*` patterns, or `*` for all. */
  topics: string[]
  /** Lifetime in seconds. */
  expiresInSec: number
  /** Who the token is for; also scopes batch-id deduplication. */
  subject?: string
  /** Issue time, seconds since the epoch. Default: now. */
  nowSec?: number
}

export interface GatewayTokenClaims {
  sub: string | null
  topics: string[]
  /** Expiry, seconds since the epoch. */
  exp: number
  iat: number | null
}

export type TokenCheck =
  | { ok: true; claims: GatewayTokenClaims }
  | { ok: false; reason: 'missing' | 'malformed' | 'bad-signature' | 'expired' | 'not-yet-valid' }

const utf8 = new TextEncoder()
const utf8d = new TextDecoder('utf-8', { fatal: true })

function b64url(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromB64url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4))
    const out = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
    return out
  } catch {
    return null
  }
}

const keyCache = new WeakMap<object, CryptoKey>()
const stringKeys = new Map<string, Promise<CryptoKey>>()

function hmacKey(secret: TokenSecret): Promise<CryptoKey> {
  if (typeof secret === 'string') {
    let k = stringKeys.get(secret)
    if (!k) {
      k = importKey(utf8.encode(secret))
      if (stringKeys.size < 16) stringKeys.set(secret, k)
    }
    return k
  }
  const cached = keyCache.get(secret)
  if (cached) return Promise.resolve(cached)
  return importKey(secret).then((k) => (keyCache.set(secret, k), k))
}

function importKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length === 0) return Promise.reject(new TypeError('the gateway token secret is empty'))
  return crypto.subtle.importKey('raw', raw as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ])
}

const HEADER = b64url(utf8.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))

/** Mint a token (async: Web Crypto). */
export async function createGatewayToken(options: CreateGatewayTokenOptions): Promise<string> {
  const { secret, topics, expiresInSec, subject } = options
  if (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new TypeError('createGatewayToken: topics must be a list of topic names or patterns')
  }
  if (!(expiresInSec > 0)) throw new TypeError('createGatewayToken: expiresInSec must be > 0')
  const iat = Math.floor(options.nowSec ?? Date.now() / 1000)
  const claims: Record<string, unknown> = { iat, exp: iat + Math.ceil(expiresInSec), topics }
  if (subject !== undefined) claims.sub = subject
  const payload = b64url(utf8.encode(JSON.stringify(claims)))
  const signingInput = `${HEADER}.${payload}`
  const sig = await crypto.subtle.sign('HMAC', await hmacKey(secret), utf8.encode(signingInput) as BufferSource)
  return `${signingInput}.${b64url(new Uint8Array(sig))}`
}

/**
 * Check a token against one or more secrets (several allow key rotation). Signature first (constant time, inside
 * Web Crypto), then the claims. `nowSec` defaults to now; `leewaySec` tolerates clock skew on exp/nbf.
 */
export async function verifyGatewayToken(
  token: string | null | undefined,
  secrets: TokenSecret | readonly TokenSecret[],
  options: { nowSec?: number; leewaySec?: number } = {},
): Promise<TokenCheck> {
  if (!token) return { ok: false, reason: 'missing' }
  if (token.length > 8192) return { ok: false, reason: 'malformed' }
  const parts = token.split('.')
  if (parts.length !== 3) return { ok: false, reason: 'malformed' }
  const [h, p, s] = parts as [string, string, string]
  const headerBytes = fromB64url(h)
  const payloadBytes = fromB64url(p)
  const sig = fromB64url(s)
  if (!headerBytes || !payloadBytes || !sig) return { ok: false, reason: 'malformed' }
  let header: { alg?: unknown }
  let claims: Record<string, unknown>
  try {
    header = JSON.parse(utf8d.decode(headerBytes))
    claims = JSON.parse(utf8d.decode(payloadBytes))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  // only HS256: never let the token pick its algorithm ("none", RS256 with the secret as a public key, ...)
  if (!header || header.alg !== 'HS256' || !claims || typeof claims !== 'object')
    return { ok: false, reason: 'malformed' }
  const data = utf8.encode(`${h}.${p}`)
  let valid = false
  for (const secret of Array.isArray(secrets) ? secrets : [secrets as TokenSecret]) {
    if (await crypto.subtle.verify('HMAC', await hmacKey(secret), sig as BufferSource, data as BufferSource)) {
      valid = true
      break
    }
  }
  if (!valid) return { ok: false, reason: 'bad-signature' }
  const { exp, nbf, sub, topics, iat } = claims
  if (typeof exp !== 'number' || !Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) {
    return { ok: false, reason: 'malformed' }
  }
  if (sub !== undefined && typeof sub !== 'string') return { ok: false, reason: 'malformed' }
  const now = options.nowSec ?? Date.now() / 1000
  const leeway = options.leewaySec ?? 0
  if (now >= exp + leeway) return { ok: false, reason: 'expired' }
  if (typeof nbf === 'number' && now + leeway < nbf) return { ok: false, reason: 'not-yet-valid' }
  return {
    ok: true,
    claims: {
      sub: (sub as string | undefined) ?? null,
      topics: topics as string[],
      exp,
      iat: typeof iat === 'number' ? iat : null,
    },
  }
}

/** Is `topic` on the allow-list? Entries: exact name, `prefix*`, or `*`. */
export function topicAllowed(allowed: readonly string[], topic: string): boolean {
  for (const a of allowed) {
    if (a === topic || a === '*') return true
    if (a.endsWith('*') && topic.startsWith(a.slice(0, -1))) return true
  }
  return false
}

/**
 * Tokens whose signature checked out, by their exact text, so a token presented again (every HTTP request of a fetch
 * client, every reconnect) costs a map lookup instead of an HMAC in Web Crypto (~0.1–0.5 ms of the gateway's one
 * thread). Only valid tokens are kept, so junk cannot fill it; expiry is checked again on every hit; at most
 * `maxEntries` tokens of at most `maxTokenLength` characters (a few MB at worst), the oldest dropped first.
 */
export class VerifiedTokens {
  private readonly byText = new Map<string, GatewayTokenClaims>()

  constructor(
    private readonly verify: (token: string | null | undefined) => Promise<TokenCheck>,
    private readonly maxEntries = 1024,
    private readonly maxTokenLength = 4096,
  ) {}

  async check(token: string | null | undefined, nowSec = Date.now() / 1000): Promise<TokenCheck> {
    const hit = token ? this.byText.get(token) : undefined
    if (hit) {
      if (nowSec < hit.exp) return { ok: true, claims: hit }
      this.byText.delete(token!)
      return { ok: false, reason: 'expired' }
    }
    const check = await this.verify(token)
    if (check.ok && token!.length <= this.maxTokenLength) {
      if (this.byText.size >= this.maxEntries) this.byText.delete(this.byText.keys().next().value!)
      this.byText.set(token!, check.claims)
    }
    return check
  }

  get size(): number {
    return this.byText.size
  }
}
