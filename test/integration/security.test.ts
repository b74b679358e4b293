import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { createProducer, type SaslOptions } from '../../src/index.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { kafkaScript, type ClusterState, type KafkaScript } from '../helpers/kafka-script.js'

// A scripts/kafka.mjs cluster with SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256/512 for alice, OAUTHBEARER) and SSL listeners:
// the global setup's (it starts its cluster with those listeners and exports them) when there is one; a cluster of
// its own otherwise, e.g. under KAFKA_BOOTSTRAP=<another cluster>, whose SASL users this file does not know.
const NAME = 'vitest-security'
const USER = 'alice'
const PASSWORD = 'alice-secret'
let kafka: KafkaScript
let state: ClusterState
let ownCluster = false

beforeAll(async () => {
  kafka = await kafkaScript()
  const env = process.env
  if (env.ISOKAFKA_TEST_CLUSTER_SCRIPTED && env.KAFKA_SASL_BOOTSTRAP && env.KAFKA_TLS_BOOTSTRAP && env.KAFKA_TLS_CA) {
    state = {
      bootstrap: env.KAFKA_BOOTSTRAP!,
      saslBootstrap: env.KAFKA_SASL_BOOTSTRAP,
      tlsBootstrap: env.KAFKA_TLS_BOOTSTRAP,
      tls: { ca: env.KAFKA_TLS_CA },
      nodes: [],
    }
  } else {
    ownCluster = true
    state = await kafka.startKafka({ name: NAME, nodes: 1, sasl: true, tls: true })
  }
})
afterAll(async () => {
  if (ownCluster) await kafka?.stopKafka({ name: NAME })
})

/** An unsecured JWS (alg none) as Kafka's default OAUTHBEARER validator accepts; a real app gets one from its IdP. */
function unsecuredJwt(sub: string): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
  const now = Math.floor(Date.now() / 1000)
  return `${b64({ alg: 'none' })}.${b64({ sub, iat: now, exp: now + 3600 })}.`
}

async function produceAndReadBack(topic: string, transport: ReturnType<typeof tcp>, n = 200) {
  await kafka.createTopic(state.bootstrap, topic, 2)
  const producer = createProducer({ transport })
  const metas = await Promise.all(
    Array.from({ length: n }, (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` })),
  )
  await producer.close()
  expect(metas).toHaveLength(n)
  const read = await readAllWithKcat(state.bootstrap, topic, n)
  expect(read.map((r) => new TextDecoder().decode(r.value!)).sort()).toEqual(
    Array.from({ length: n }, (_, i) => `v${i}`).sort(),
  )
}

describe('SASL and TLS against real broker listeners', () => {
  const mechanisms: Array<SaslOptions['mechanism']> = ['plain', 'scram-sha-256', 'scram-sha-512']
  for (const mechanism of mechanisms) {
    it(`SASL ${mechanism}`, async () => {
      const sasl = { mechanism, username: USER, password: PASSWORD } as SaslOptions
      await produceAndReadBack(uniqueTopic(`sasl-${mechanism}`), tcp({ bootstrap: state.saslBootstrap!, sasl }))
    })
  }

  it('SASL OAUTHBEARER with a token callback', async () => {
    let calls = 0
    const sasl: SaslOptions = { mechanism: 'oauthbearer', token: async () => (calls++, unsecuredJwt(USER)) }
    await produceAndReadBack(uniqueTopic('sasl-oauth'), tcp({ bootstrap: state.saslBootstrap!, sasl }))
    expect(calls).toBeGreaterThan(0)
  })

  it('TLS with the self-signed CA passed in', async () => {
    await produceAndReadBack(
      uniqueTopic('tls-topic'),
      tcp({ bootstrap: state.tlsBootstrap!, tls: { ca: readFileSync(state.tls!.ca) } }),
    )
  })

  it('TLS with an untrusted certificate fails fast with AUTHENTICATION_FAILED', async () => {
    const producer = createProducer({
      transport: tcp({ bootstrap: state.tlsBootstrap!, tls: true }),
      maxBlockMs: 10_000,
    })
    const started = Date.now()
    const err = await producer.send({ topic: 'tls-topic', value: 'x' }).catch((e) => e)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(err).toMatchObject({ code: 'AUTHENTICATION_FAILED', retriable: false })
    expect(err.message).toMatch(/TLS/)
    await producer.close()
  })

  for (const mechanism of mechanisms) {
    it(`a wrong ${mechanism} password fails fast with AUTHENTICATION_FAILED, without the secret, and no retry storm`, async () => {
      const secret = 'not-the-password-s3cr3t'
      let connects = 0
      const base = tcp({
        bootstrap: state.saslBootstrap!,
        sasl: { mechanism, username: USER, password: secret } as SaslOptions,
      })
      const counting = { ...base, connect: (...a: Parameters<typeof base.connect>) => (connects++, base.connect(...a)) }
      const producer = createProducer({ transport: counting, maxBlockMs: 10_000 })
      const started = Date.now()
      const err = await producer.send({ topic: 'sasl-plain', value: 'x' }).catch((e) => e)
      expect(Date.now() - started).toBeLessThan(5000)
      expect(err).toMatchObject({ code: 'AUTHENTICATION_FAILED', retriable: false })
      const text = `${err.message} ${String(err.cause ?? '')} ${err.stack}`
      expect(text).not.toContain(secret)
      await new Promise((r) => setTimeout(r, 1000))
      expect(connects).toBeLessThanOrEqual(5)
      await producer.close()
    })
  }
})
