import { ErrorCode } from '../../protocol/error-codes.js'
import { toBase64, fromBase64 } from '../../base64.js'
import {
  SaslAuthenticate,
  SaslHandshake,
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponse,
  type SaslHandshakeRequest,
  type SaslHandshakeResponse,
} from '../../protocol/messages/sasl.js'
import type { FakeCluster } from '../cluster.js'
import type { FakeApiHandler, HandlerContext } from './context.js'

export type FakeSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'OAUTHBEARER'

/** SASL on the fake cluster: every connection must authenticate before any request but ApiVersions and SASL ones. */
export interface FakeSaslConfig {
  /** Enabled mechanisms, in the order the handshake lists them. Default: all four. */
  mechanisms?: FakeSaslMechanism[]
  /** User name → password (PLAIN and SCRAM). */
  users?: Record<string, string>
  /** Accepts an OAUTHBEARER token. Default: any non-empty token. */
  validateToken?: (token: string) => boolean
  /** SCRAM iteration count. Default 4096 (Kafka's minimum). */
  scramIterations?: number
}

/** Per-connection SASL progress. */
export interface SaslSession {
  mechanism: FakeSaslMechanism | null
  authenticated: boolean
  user: string | null
  scram: { clientFirstBare: string; serverFirst: string; nonce: string; user: string } | null
}

export function newSaslSession(): SaslSession {
  return { mechanism: null, authenticated: false, user: null, scram: null }
}

const ALL: FakeSaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER']
const utf8 = new TextEncoder()
const utf8d = new TextDecoder()
const EMPTY = new Uint8Array(0)

export function enabledMechanisms(cluster: FakeCluster): FakeSaslMechanism[] {
  return cluster.sasl ? (cluster.sasl.mechanisms ?? ALL) : []
}

/** SaslHandshake: picks the mechanism. On a listener without SASL it is ILLEGAL_SASL_STATE, as on a real broker. */
export const saslHandshakeHandler: FakeApiHandler<SaslHandshakeRequest, SaslHandshakeResponse> = {
  api: SaslHandshake,
  handle(ctx, req) {
    const mechanisms = enabledMechanisms(ctx.cluster)
    const injected = ctx.faults.errorFor()
    if (injected) return { errorCode: injected, mechanisms }
    const session = ctx.connection.sasl
    if (!ctx.cluster.sasl || session.mechanism !== null) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms }
    const mechanism = mechanisms.find((m) => m === req.mechanism.toUpperCase())
    if (!mechanism) return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms }
    session.mechanism = mechanism
    return { errorCode: 0, mechanisms }
  },
}

async function hmac(hash: string, key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash }, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, data as BufferSource))
}
async function digest(hash: string, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(hash, data as BufferSource))
}

interface ScramCredential {
  salt: Uint8Array
  iterations: number
  storedKey: Uint8Array
  serverKey: Uint8Array
}
const credentials = new WeakMap<FakeCluster, Map<string, Promise<ScramCredential>>>()

/** The SCRAM credential a broker would store for a user (RFC 5802: salted password → stored key, server key). */
function scramCredential(
  cluster: FakeCluster,
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
  user: string,
  password: string,
): Promise<ScramCredential> {
  let byUser = credentials.get(cluster)
  if (!byUser) credentials.set(cluster, (byUser = new Map()))
  const key = `${mechanism}\u0000${user}\u0000${password}`
  let cred = byUser.get(key)
  if (!cred) {
    cred = (async () => {
      const hash = mechanism === 'SCRAM-SHA-256' ? 'SHA-256' : 'SHA-512'
      const bits = mechanism === 'SCRAM-SHA-256' ? 256 : 512
      const iterations = cluster.sasl?.scramIterations ?? 4096
      const salt = crypto.getRandomValues(new Uint8Array(16))
      const pw = await crypto.subtle.importKey(
        'raw',
        utf8.encode(password.normalize('NFKC')) as BufferSource,
        'PBKDF2',
        false,
        ['deriveBits'],
      )
      const salted = new Uint8Array(
        await crypto.subtle.deriveBits({ name: 'PBKDF2', hash, salt: salt as BufferSource, iterations }, pw, bits),
      )
      const clientKey = await hmac(hash, salted, utf8.encode('Client Key'))
      return {
        salt,
        iterations,
        storedKey: await digest(hash, clientKey),
        serverKey: await hmac(hash, salted, utf8.encode('Server Key')),
      }
    })()
    byUser.set(key, cred)
  }
  return cred
}

function attributes(message: string): Map<string, string> {
  return new Map(message.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const))
}

class AuthFailure extends Error {}

async function scramStep(
  ctx: HandlerContext,
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
  input: string,
): Promise<string> {
  const session = ctx.connection.sasl
  const users = ctx.cluster.sasl?.users ?? {}
  const hash = mechanism === 'SCRAM-SHA-256' ? 'SHA-256' : 'SHA-512'
  if (!session.scram) {
    // client-first: gs2 header ("n,," — channel binding is not offered), then n=user,r=nonce
    const m = /^[ny],[^,]*,(.*)$/.exec(input)
    if (!m) throw new AuthFailure('malformed client-first message')
    const clientFirstBare = m[1]!
    const attrs = attributes(clientFirstBare)
    const user = (attrs.get('n') ?? '').replace(/=2C/g, ',').replace(/=3D/g, '=')
    const clientNonce = attrs.get('r')
    if (!clientNonce || !Object.prototype.hasOwnProperty.call(users, user))
      throw new AuthFailure('Invalid user credentials')
    const cred = await scramCredential(ctx.cluster, mechanism, user, users[user]!)
    const nonce = clientNonce + toBase64(crypto.getRandomValues(new Uint8Array(18))).replace(/[=+/]/g, 'x')
    const serverFirst = `r=${nonce},s=${toBase64(cred.salt)},i=${cred.iterations}`
    session.scram = { clientFirstBare, serverFirst, nonce, user }
    return serverFirst
  }
  const { clientFirstBare, serverFirst, nonce, user } = session.scram
  session.scram = null
  const proofAt = input.lastIndexOf(',p=')
  if (proofAt < 0) throw new AuthFailure('malformed client-final message')
  const withoutProof = input.slice(0, proofAt)
  const attrs = attributes(withoutProof)
  if (attrs.get('r') !== nonce || attrs.get('c') !== 'biws') throw new AuthFailure('Invalid nonce or channel binding')
  const proof = fromBase64(input.slice(proofAt + 3))
  const cred = await scramCredential(ctx.cluster, mechanism, user, users[user]!)
  const authMessage = utf8.encode(`${clientFirstBare},${serverFirst},${withoutProof}`)
  const signature = await hmac(hash, cred.storedKey, authMessage)
  if (proof.length !== signature.length) throw new AuthFailure('Invalid user credentials')
  const clientKey = proof.map((b, i) => b ^ signature[i]!)
  const stored = await digest(hash, clientKey)
  if (stored.some((b, i) => b !== cred.storedKey[i])) throw new AuthFailure('Invalid user credentials')
  session.authenticated = true
  session.user = user
  return `v=${toBase64(await hmac(hash, cred.serverKey, authMessage))}`
}

/** SaslAuthenticate: one step of the chosen mechanism. A failure is SASL_AUTHENTICATION_FAILED, then the broker hangs up. */
export const saslAuthenticateHandler: FakeApiHandler<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  api: SaslAuthenticate,
  async handle(ctx, req) {
    const session = ctx.connection.sasl
    const answer = (bytes: Uint8Array): SaslAuthenticateResponse => ({
      errorCode: 0,
      errorMessage: null,
      authBytes: bytes,
      sessionLifetimeMs: 0,
    })
    const fail = (errorCode: number, errorMessage: string): SaslAuthenticateResponse => {
      ctx.closeConnection = true
      return { errorCode, errorMessage, authBytes: EMPTY, sessionLifetimeMs: 0 }
    }
    const injected = ctx.faults.errorFor()
    if (injected) return fail(injected, 'injected by the fake cluster')
    if (!session.mechanism || session.authenticated)
      return fail(ErrorCode.ILLEGAL_SASL_STATE, 'unexpected SaslAuthenticate request')
    const users = ctx.cluster.sasl?.users ?? {}
    const input = utf8d.decode(req.authBytes)
    try {
      switch (session.mechanism) {
        case 'PLAIN': {
          const [, user = '', password] = input.split('\u0000')
          if (!Object.prototype.hasOwnProperty.call(users, user) || users[user] !== password)
            throw new AuthFailure('Invalid username or password')
          session.authenticated = true
          session.user = user
          return answer(EMPTY)
        }
        case 'OAUTHBEARER': {
          const m = /auth=Bearer ([^\u0001]+)\u0001/.exec(input)
          const token = m?.[1] ?? ''
          const ok = ctx.cluster.sasl?.validateToken ? ctx.cluster.sasl.validateToken(token) : token.length > 0
          if (!ok) throw new AuthFailure('invalid token')
          session.authenticated = true
          return answer(EMPTY)
        }
        default:
          return answer(utf8.encode(await scramStep(ctx, session.mechanism, input)))
      }
    } catch (err) {
      if (err instanceof AuthFailure)
        return fail(ErrorCode.SASL_AUTHENTICATION_FAILED, `Authentication failed: ${err.message}`)
      throw err
    }
  },
}
