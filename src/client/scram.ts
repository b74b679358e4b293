import { AuthenticationError } from '../errors.js'
import { toBase64, fromBase64 } from '../base64.js'

/**
 * SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) with Web Crypto only, so it runs in Node, browsers and workerd.
 */
const utf8 = new TextEncoder()
const utf8d = new TextDecoder()

/** RFC 5802 saslname: ',' and '=' must be escaped in the user name. */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C')
}

async function hmac(hash: string, key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash }, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, data as BufferSource))
}

export async function scramAuthenticate(
  step: (bytes: Uint8Array) => Promise<Uint8Array>,
  mechanism: 'scram-sha-256' | 'scram-sha-512',
  username: string,
  password: string,
): Promise<void> {
  const hash = mechanism === 'scram-sha-256' ? 'SHA-256' : 'SHA-512'
  const bits = mechanism === 'scram-sha-256' ? 256 : 512
  const nonceBytes = crypto.getRandomValues(new Uint8Array(24))
  const clientNonce = toBase64(nonceBytes).replace(/[=+/]/g, 'x')
  const clientFirstBare = `n=${saslName(username)},r=${clientNonce}`
  const serverFirst = utf8d.decode(await step(utf8.encode(`n,,${clientFirstBare}`)))

  const attrs = new Map(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const))
  const nonce = attrs.get('r')
  const salt = attrs.get('s')
  const iterations = Number(attrs.get('i'))
  if (!nonce || !salt || !Number.isInteger(iterations) || iterations < 1 || !nonce.startsWith(clientNonce)) {
    throw new AuthenticationError(`SCRAM: unexpected server-first message`)
  }
  const pwKey = await crypto.subtle.importKey(
    'raw',
    utf8.encode(password.normalize('NFKC')) as BufferSource,
    'PBKDF2',
    false,
    ['deriveBits'],
  )
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: 'PBKDF2', hash, salt: fromBase64(salt) as BufferSource, iterations },
      pwKey,
      bits,
    ),
  )
  const clientKey = await hmac(hash, salted, utf8.encode('Client Key'))
  const storedKey = new Uint8Array(await crypto.subtle.digest(hash, clientKey as BufferSource))
  const clientFinalNoProof = `c=biws,r=${nonce}`
  const authMessage = utf8.encode(`${clientFirstBare},${serverFirst},${clientFinalNoProof}`)
  const signature = await hmac(hash, storedKey, authMessage)
  const proof = clientKey.map((b, i) => b ^ signature[i]!)
  const serverFinal = utf8d.decode(await step(utf8.encode(`${clientFinalNoProof},p=${toBase64(proof)}`)))

  const serverKey = await hmac(hash, salted, utf8.encode('Server Key'))
  const expected = toBase64(await hmac(hash, serverKey, authMessage))
  const verifier = serverFinal
    .split(',')
    .find((kv) => kv.startsWith('v='))
    ?.slice(2)
  if (verifier !== expected) throw new AuthenticationError('SCRAM: the server signature did not verify')
}
