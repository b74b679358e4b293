import type { SaslOptions } from '../transport.js'
import { SaslAuthenticate, SaslHandshake } from '../protocol/messages/sasl.js'
import { AuthenticationError } from '../errors.js'
import type { BrokerConnection } from './connection.js'
import { scramAuthenticate } from './scram.js'

const utf8 = new TextEncoder()

/**
 * SASL over the Kafka protocol (KIP-152): SaslHandshake picks the mechanism, then SaslAuthenticate carries the
 * mechanism's messages. Secrets never go into error messages.
 */
export async function authenticateSasl(conn: BrokerConnection, sasl: SaslOptions): Promise<void> {
  const mechanism = sasl.mechanism.toUpperCase()
  const hs = await conn.request(SaslHandshake, { mechanism })
  if (hs.errorCode !== 0) {
    throw new AuthenticationError(
      `${conn.address} does not enable SASL mechanism ${mechanism} (enabled: ${hs.mechanisms.join(', ') || 'none'})`,
    )
  }
  const step = async (bytes: Uint8Array): Promise<Uint8Array> => {
    const res = await conn.request(SaslAuthenticate, { authBytes: bytes })
    if (res.errorCode !== 0) {
      throw new AuthenticationError(
        `SASL ${mechanism} authentication with ${conn.address} failed: ${res.errorMessage ?? `error ${res.errorCode}`}`,
      )
    }
    return res.authBytes
  }
  switch (sasl.mechanism) {
    case 'plain':
      await step(utf8.encode(`\u0000${sasl.username}\u0000${sasl.password}`))
      return
    case 'oauthbearer': {
      const token = await sasl.token()
      // RFC 7628 initial client response: gs2 header, then auth=Bearer <token>, framed by 0x01 bytes
      await step(utf8.encode(`n,,\u0001auth=Bearer ${token}\u0001\u0001`))
      return
    }
    case 'scram-sha-256':
    case 'scram-sha-512': {
      await scramAuthenticate(step, sasl.mechanism, sasl.username, sasl.password)
      return
    }
  }
}
