/// <reference types="node" />
// Hostile clients, part 2: who gets in. Token forgeries over every way a token is presented (hello frame, `?token=`
// on the upgrade, `isokafka.token.` subprotocol, HTTP Bearer), allow-list bypass attempts, Origin bypass attempts,
// and tokens never showing up in the gateway's logs (run at logLevel 'debug').
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopic, uniqueTopic } from '../../helpers/kafka-tools.js'
import {
  Accepted,
  FrameClient,
  OTHER_SECRET,
  SECRET,
  assertHealthy,
  authed,
  b64url,
  expectNoLeaks,
  expectTopicHolds,
  expectUpgradeStatus,
  finishChildren,
  hs256,
  httpRequest,
  kafkaBootstrap,
  mintToken,
  pack,
  produceFrame,
  rawExchange,
  rec,
  remember,
  sleep,
  startChildGateway,
  statusOf,
  tokenLinesIn,
  uniqueId,
  upgradeRequest,
  type ChildGateway,
} from './harness.js'

const bootstrap = kafkaBootstrap()
const ORIGIN = 'https://app.example'
const topic = uniqueTopic('hostile-auth')
const accepted = new Accepted()
let gw: ChildGateway
let token: string
let clusterId: string

beforeAll(async () => {
  await createTopic(bootstrap, topic, 1)
  gw = await startChildGateway({ origins: [ORIGIN], logLevel: 'debug', helloTimeoutMs: 3000 })
  token = mintToken({ topics: [topic], sub: 'auth' })
  const res = await httpRequest(gw, 'GET', '/v3/clusters', { headers: { Authorization: `Bearer ${token}` } })
  expect(res.status, res.text).toBe(200)
  clusterId = JSON.parse(res.text).data[0].cluster_id
})
afterAll(() => finishChildren('auth.test.ts', [['gateway', gw]]))

const now = () => Math.floor(Date.now() / 1000)
const signed = (header: object | string, claims: object | string, secret: string = SECRET) => {
  const input = `${b64url(header)}.${b64url(claims)}`
  return remember(`${input}.${hs256(input, secret)}`)
}
const HS = { alg: 'HS256', typ: 'JWT' }
const claimsFor = (extra: object = {}) => ({ iat: now(), exp: now() + 600, topics: ['*'], sub: 'forger', ...extra })

// ---------------------------------------------------------------------------------------------------------------

describe('token forgeries are refused on every channel', () => {
  const forgeries: Array<{ name: string; make: () => string }> = [
    {
      name: 'alg none, empty signature',
      make: () => remember(`${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claimsFor())}.`),
    },
    { name: 'alg none with an HMAC signature', make: () => signed({ alg: 'none', typ: 'JWT' }, claimsFor()) },
    { name: 'alg "hs256" (lower case)', make: () => signed({ alg: 'hs256', typ: 'JWT' }, claimsFor()) },
    { name: 'alg HS512 header over an HS256 signature', make: () => signed({ alg: 'HS512', typ: 'JWT' }, claimsFor()) },
    { name: 'header without alg', make: () => signed({ typ: 'JWT' }, claimsFor()) },
    {
      name: 'payload swapped for topics ["*"] under a valid signature',
      make: () => {
        const [h, , s] = mintToken({ topics: [topic], sub: 'victim' }).split('.')
        return remember(`${h}.${b64url(claimsFor())}.${s}`)
      },
    },
    {
      name: 'signed with another secret',
      make: () => mintToken({ topics: ['*'], sub: 'forger' }, { secret: OTHER_SECRET }),
    },
    {
      name: 'signature one character short',
      make: () => remember(mintToken({ topics: ['*'], sub: 'forger' }).slice(0, -1)),
    },
    {
      name: 'expired an hour ago',
      make: () => mintToken({ topics: [topic], sub: 'late', iat: now() - 7200, exp: now() - 3600 }),
    },
    { name: 'nbf an hour in the future', make: () => mintToken({ topics: [topic], sub: 'early', nbf: now() + 3600 }) },
    { name: 'no exp claim', make: () => mintToken({ topics: [topic], sub: 'forever', exp: undefined }) },
    { name: 'exp as a string', make: () => mintToken({ topics: [topic], sub: 'x', exp: String(now() + 600) }) },
    { name: 'topics not a list', make: () => mintToken({ topics: '*', sub: 'x' }) },
    { name: 'sub a number', make: () => mintToken({ topics: [topic], sub: 42 }) },
    {
      name: 'a 10 kB token (valid signature, padded claims)',
      make: () => mintToken({ topics: [topic], sub: 'big', pad: 'x'.repeat(10_000) }),
    },
    {
      name: 'two segments',
      make: () =>
        remember(
          mintToken({ topics: ['*'] })
            .split('.')
            .slice(0, 2)
            .join('.'),
        ),
    },
    { name: 'four segments', make: () => remember(`${mintToken({ topics: ['*'] })}.${b64url('x')}`) },
    { name: 'payload that is not JSON', make: () => signed(HS, 'not json at all') },
    { name: 'header that is a JSON string', make: () => signed('"HS256"', claimsFor()) },
  ]

  it.each(forgeries)('hello with $name → fatal UNAUTHENTICATED/TOKEN_EXPIRED, close 4401', async ({ make }) => {
    const c = await FrameClient.open(gw)
    const f = await c.hello(make())
    expect(f.t).toBe('error')
    expect(['UNAUTHENTICATED', 'TOKEN_EXPIRED']).toContain(f.code)
    expect(f.fatal).toBe(true)
    expect((await c.waitClosed(3000)).code).toBe(4401)
  })

  it.each(forgeries)('upgrade with ?token= $name → HTTP 401, no WebSocket', async ({ make }) => {
    await expectUpgradeStatus(FrameClient.open(gw, { token: make() }), 401)
  })

  it.each(forgeries)('upgrade with subprotocol isokafka.token.<$name> → HTTP 401, no WebSocket', async ({ make }) => {
    await expectUpgradeStatus(FrameClient.open(gw, { subprotocolToken: make() }), 401)
  })

  it.each(forgeries)('HTTP Bearer $name → 401', async ({ make }) => {
    const res = await httpRequest(gw, 'POST', '/v1/metadata', {
      headers: { Authorization: `Bearer ${make()}`, 'Content-Type': 'application/vnd.msgpack' },
      body: pack({ t: 'metadata', id: 1, topics: [topic] }),
    })
    expect(res.status).toBe(401)
  })

  it('valid token in ?token= → the WebSocket opens authenticated: welcome without a hello', async () => {
    const c = await FrameClient.open(gw, { token })
    const w = await c.next(() => true, 3000)
    expect(w).toMatchObject({ t: 'welcome', subject: 'auth' })
    c.close()
  })

  it('valid token as subprotocol → welcome without a hello; only isokafka.v1 is echoed', async () => {
    const c = await FrameClient.open(gw, { subprotocolToken: token })
    expect(c.ws.protocol).toBe('isokafka.v1')
    expect(await c.next(() => true, 3000)).toMatchObject({ t: 'welcome', subject: 'auth' })
    c.close()
  })

  it('a token that expires during the session: the next produce gets TOKEN_EXPIRED, nothing written', async () => {
    const exp = now() + 2
    const c = await authed(gw, mintToken({ topics: [topic], sub: 'short', exp }))
    await sleep(exp * 1000 - Date.now() + 100)
    c.send(produceFrame(7, [{ topic, batchId: uniqueId('late'), records: [rec(`expired-${uniqueId()}`)] }]))
    const f = await c.answer(7, 5000)
    expect(f).toMatchObject({ t: 'error', code: 'TOKEN_EXPIRED' })
    c.close()
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'forgeries'))
})

// ---------------------------------------------------------------------------------------------------------------

describe('allow-list bypass attempts', () => {
  let c: FrameClient
  let fuzz: FrameClient
  let id = 100
  beforeAll(async () => {
    c = await authed(gw, token)
    fuzz = await authed(gw, mintToken({ topics: ['fuzz-*'], sub: 'fuzzer' }))
  })
  afterAll(() => {
    c?.close()
    fuzz?.close()
  })

  // names the exact-topic token must not reach; `valid` = a legal Kafka topic name (then the refusal must be 29/403)
  const names = (): Array<{ name: string; label: string; valid: boolean }> => [
    { label: 'topic + "*"', name: `${topic}*`, valid: false },
    { label: '"*"', name: '*', valid: false },
    { label: 'topic + "."', name: `${topic}.`, valid: true },
    { label: 'topic + ".."', name: `${topic}..`, valid: true },
    { label: '".."', name: '..', valid: false },
    { label: '"../" + topic', name: `../${topic}`, valid: false },
    { label: 'topic upper-cased', name: topic.toUpperCase(), valid: true },
    { label: 'topic with a Cyrillic homoglyph', name: topic.replace('h', '\u04bb'), valid: false },
    { label: 'topic + NUL', name: `${topic}\u0000`, valid: false },
    { label: 'topic + "/x"', name: `${topic}/x`, valid: false },
    { label: 'topic minus its last character (prefix)', name: topic.slice(0, -1), valid: true },
    { label: 'topic + "-x" (extension)', name: `${topic}-x`, valid: true },
  ]
  const rows = names().map((n) => ({ ...n }))

  it.each(rows)('metadata for $label → errorCode 29 (or MALFORMED)', async ({ name, valid }) => {
    const i = ++id
    c.send({ t: 'metadata', id: i, topics: [name] })
    const f = await c.answer(i, 5000)
    if (f.t === 'error') {
      expect(valid, `a legal topic name must be answered 29, not ${f.code}`).toBe(false)
      expect(f.code).toBe('MALFORMED')
    } else {
      expect(f.t).toBe('metadata')
      expect(f.topics[0].errorCode).toBe(29)
    }
  })

  it.each(rows)('produce to $label → refused (29 or MALFORMED), nothing written', async ({ name, valid }) => {
    const i = ++id
    c.send(produceFrame(i, [{ topic: name, batchId: uniqueId('bypass'), records: [rec(`bypass-${uniqueId()}`)] }]))
    const f = await c.answer(i, 5000)
    if (f.t === 'error') {
      expect(valid, `a legal topic name must be answered 29, not ${f.code}`).toBe(false)
      expect(f.code).toBe('MALFORMED')
    } else {
      expect(f.t).toBe('ack')
      expect(f.results[0].errorCode).toBe(valid ? 29 : f.results[0].errorCode)
      expect(f.results[0].errorCode).not.toBe(0)
    }
  })

  it.each(rows)('REST v3 produce to $label → 403 (or 400/404)', async ({ name, valid }) => {
    const res = await httpRequest(gw, 'POST', `/v3/clusters/${clusterId}/topics/${encodeURIComponent(name)}/records`, {
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: { type: 'STRING', data: `bypass-${uniqueId()}` } }),
    })
    if (valid) expect(res.status, res.text).toBe(403)
    else expect([400, 403, 404], res.text).toContain(res.status)
  })

  it.each(rows.filter((r) => r.valid))('REST v2 produce to $label → 403', async ({ name }) => {
    const res = await httpRequest(gw, 'POST', `/topics/${encodeURIComponent(name)}`, {
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ value: `bypass-${uniqueId()}` }] }),
    })
    expect(res.status, res.text).toBe(403)
  })

  const fuzzRows = [
    { label: '"fuzz" (the pattern without its dash)', name: 'fuzz' },
    { label: '"fuz"', name: 'fuz' },
    { label: '"xfuzz-a" (pattern not at the start)', name: 'xfuzz-a' },
    { label: '"FUZZ-a" (case)', name: 'FUZZ-a' },
    { label: '"fuzz_a" (other separator)', name: 'fuzz_a' },
    { label: '"fuzz.a"', name: 'fuzz.a' },
  ]
  it.each(fuzzRows)('token for fuzz-*: metadata for $label → 29', async ({ name }) => {
    const i = ++id
    fuzz.send({ t: 'metadata', id: i, topics: [name] })
    const f = await fuzz.answer(i, 5000)
    expect(f.t).toBe('metadata')
    expect(f.topics[0].errorCode).toBe(29)
  })

  it.each([
    { label: '"fuzz-*" itself', name: 'fuzz-*' },
    { label: '"fuzz-.."', name: 'fuzz-..' },
    { label: '"fuzz-/../x"', name: 'fuzz-/../x' },
    { label: '"fuzz-\\u202e" (right-to-left override)', name: 'fuzz-\u202e' },
  ])('token for fuzz-*: produce to $label → refused, never acked', async ({ name }) => {
    const i = ++id
    fuzz.send(produceFrame(i, [{ topic: name, batchId: uniqueId('fz'), records: [rec('fz')] }]))
    const f = await fuzz.answer(i, 5000)
    if (f.t === 'ack') expect(f.results[0].errorCode).not.toBe(0)
    else expect(f.t).toBe('error')
  })

  it('the fuzz-* token cannot produce to the real topic', async () => {
    const i = ++id
    fuzz.send(produceFrame(i, [{ topic, batchId: uniqueId('fz'), records: [rec(`fz-${uniqueId()}`)] }]))
    const f = await fuzz.answer(i, 5000)
    expect(f.t).toBe('ack')
    expect(f.results[0].errorCode).toBe(29)
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'acl'))
})

// ---------------------------------------------------------------------------------------------------------------

describe('Origin bypass attempts (allowed: https://app.example)', () => {
  const origins = [
    'https://APP.example',
    'HTTPS://app.example',
    'https://app.example/',
    'null',
    'https://app.example.evil.com',
    'https://evilapp.example',
    'https://sub.app.example',
    'https://app.examplex',
    'https://app.example.',
    'https://app.example:443',
    'https://app.example:8443',
    'http://app.example',
    'https://app.example%00',
    'https://app.example, https://evil.example',
  ].map((origin) => ({ origin }))

  it.each(origins)('WebSocket upgrade with Origin $origin → 403', async ({ origin }) => {
    await expectUpgradeStatus(FrameClient.open(gw, { origin, token }), 403)
  })

  it.each(origins)('HTTP POST /v1/metadata with Origin $origin → 403', async ({ origin }) => {
    const res = await httpRequest(gw, 'POST', '/v1/metadata', {
      headers: { Origin: origin, Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.msgpack' },
      body: pack({ t: 'metadata', id: 1, topics: [topic] }),
    })
    expect(res.status).toBe(403)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('two Origin headers (allowed first, evil second) on the upgrade → 403', async () => {
    const r = await rawExchange(
      gw,
      upgradeRequest(`/v1/ws?token=${token}`, [`Origin: ${ORIGIN}`, 'Origin: https://evil.example']),
      {
        until: (t) => t.includes('\r\n\r\n'),
      },
    )
    expect(statusOf(r.text)).toBe(403)
  })

  it('a CORS preflight from another origin gets no Access-Control-Allow-Origin', async () => {
    const res = await httpRequest(gw, 'OPTIONS', '/v1/produce', {
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    })
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    expect(res.status).toBeGreaterThanOrEqual(400)
  })

  it('the allowed origin itself works on both (control)', async () => {
    const c = await FrameClient.open(gw, { origin: ORIGIN, token })
    expect((await c.next(() => true, 3000)).t).toBe('welcome')
    c.close()
    const res = await httpRequest(gw, 'POST', '/v1/metadata', {
      headers: { Origin: ORIGIN, Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.msgpack' },
      body: pack({ t: 'metadata', id: 1, topics: [topic] }),
    })
    expect(res.status).toBe(200)
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN)
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'origin'))
})

// ---------------------------------------------------------------------------------------------------------------

describe('tokens never reach the logs (logLevel debug)', () => {
  it('errors provoked with ?token= URLs, Bearer headers and hello frames leave no token and no query string in stderr', async () => {
    const expired = mintToken({ topics: [topic], sub: 'old', iat: now() - 7200, exp: now() - 3600 })
    const forged = mintToken({ topics: ['*'], sub: 'forger' }, { secret: OTHER_SECRET })
    const q = (t: string) => `token=${encodeURIComponent(t)}`
    const answers = await Promise.all([
      httpRequest(gw, 'GET', `/topics/%zz/partitions?${q(token)}`),
      httpRequest(gw, 'GET', `/v3/clusters/%E0%A4%A?${q(token)}`),
      httpRequest(gw, 'POST', `/v3/clusters/%E0%A4%A/topics/x/records?${q(token)}`, { body: '{}' }),
      httpRequest(gw, 'POST', `/v1/produce?${q(token)}`, { body: 'not msgpack' }),
      httpRequest(gw, 'POST', `/v1/produce?${q(expired)}`, { body: pack(produceFrame(1, [])) }),
      httpRequest(gw, 'GET', `/nope?${q(token)}`),
      httpRequest(gw, 'GET', `/v3/clusters?${q(forged)}`),
      httpRequest(gw, 'GET', '/v3/clusters/none', { headers: { Authorization: `Bearer ${token}` } }),
      httpRequest(gw, 'POST', `/topics/${encodeURIComponent(topic)}?${q(token)}`, {
        headers: { 'Content-Type': 'application/vnd.kafka.json.v2+json' },
        body: '{"records": [',
      }),
    ])
    expect(answers.every((a) => a.status >= 400)).toBe(true)
    // (what these upgrades get is checked elsewhere; here they only provoke log lines)
    const attempt = (p: Promise<FrameClient>) =>
      p.then(
        (x) => sleep(200).then(() => x.close()),
        () => {},
      )
    await attempt(FrameClient.open(gw, { path: `/nope?${q(token)}` }))
    await attempt(FrameClient.open(gw, { token: forged }))
    await attempt(FrameClient.open(gw, { token: expired }))
    await attempt(FrameClient.open(gw, { subprotocolToken: forged }))
    const c = await FrameClient.open(gw, { token })
    await c.next((f) => f.t === 'welcome')
    c.send(Uint8Array.of(0xc1))
    c.send(produceFrame(1, [{ topic: 'forbidden-topic', batchId: uniqueId(), records: [rec('x')] }]))
    await c.next((f) => f.t === 'ack')
    c.close()
    const h = await FrameClient.open(gw)
    await h.hello(forged)
    await sleep(300)
    const log = gw.stderr()
    expect(log.split('\n').filter(Boolean).length, 'the gateway logged something at debug level').toBeGreaterThan(0)
    expect(tokenLinesIn(log).map((l) => l.slice(0, 300))).toEqual([])
  })

  it('a subject carrying a newline and a fake JSON log entry cannot forge a log line', async () => {
    const evil = 'x\n{"ts":"2000-01-01T00:00:00.000Z","level":"error","msg":"FORGED-ENTRY"}\n'
    const c = await authed(gw, mintToken({ topics: [topic], sub: evil }))
    c.send(produceFrame(1, [{ topic: 'forbidden-topic', batchId: uniqueId('inj'), records: [rec('x')] }]))
    await c.answer(1)
    c.send(Uint8Array.of(0xc1))
    await c.next((f) => f.t === 'error')
    c.close()
    await sleep(200)
    const forged = gw
      .stderr()
      .split('\n')
      .filter((l) => {
        try {
          return (JSON.parse(l) as { msg?: unknown }).msg === 'FORGED-ENTRY'
        } catch {
          return l.startsWith('{"ts":"2000-01-01')
        }
      })
    expect(forged).toEqual([])
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'logs'))
})

describe('Kafka and answers', () => {
  it('the topic holds exactly the accepted records (no refused produce reached Kafka)', async () => {
    await expectTopicHolds(bootstrap, topic, accepted.get(topic))
  })
  it('no answer carried a broker address, a stack trace or a token', () => {
    expectNoLeaks()
    gw.assertAlive()
  })
})
