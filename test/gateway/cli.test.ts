/// <reference types="node" />
// bin/isokafka.mjs: `isokafka token` and `isokafka gateway` as a separate process. The CLI loads ../dist/gateway.js;
// this test bundles adapters/gateway/index.ts to that place in a temporary copy, so it does not need `npm run build`.
// Black-box: tokens are checked with node:crypto, the gateway is spoken to over WebSocket / HTTP.
// (service.test.ts covers the settings sources, probes, metrics and the SIGTERM drain.)
import { spawnSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createProducer } from '../../src/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { bundleCli, cleanEnv, startGatewayCli, upgradeStatus, type BundledCli } from './cli-harness.js'

const bootstrap = inject('kafkaBootstrap')
const CLI_SECRET = 'cli-secret-0123456789'
let cli: BundledCli

beforeAll(async () => {
  cli = await bundleCli('isokafka-cli-')
})
afterAll(() => cli?.remove())

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [cli.bin, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 20_000 })
}

/** HS256 check with node:crypto; the claims when the signature verifies. */
function verifyJwt(token: string, secret: string): Record<string, unknown> | null {
  const [h, p, s] = token.split('.')
  if (!h || !p || !s) return null
  const want = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')
  if (want !== s) return null
  expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toMatchObject({ alg: 'HS256' })
  return JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
}

describe('isokafka CLI', () => {
  it('isokafka token prints a verifiable token', () => {
    const r = run(['token', '--topics', 'a,b*', '--expires', '60', '--subject', 'cli'], {
      ISOKAFKA_GATEWAY_SECRET: CLI_SECRET,
    })
    expect(r.status).toBe(0)
    const claims = verifyJwt(r.stdout.trim(), CLI_SECRET)
    expect(claims).toMatchObject({ sub: 'cli', topics: ['a', 'b*'] })
    expect((claims!.exp as number) - (claims!.iat as number)).toBe(60)
    expect(verifyJwt(r.stdout.trim(), 'another-secret-0123456789')).toBeNull()
    const bad = run(['token'], { ISOKAFKA_GATEWAY_SECRET: CLI_SECRET })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--topics is required/)
  })

  it('isokafka gateway refuses bad settings with exit 2 and one clear message (no stack, no secret)', () => {
    const noBootstrap = run(['gateway', '--port', '0'], { KAFKA_BOOTSTRAP: '', ISOKAFKA_GATEWAY_SECRET: CLI_SECRET })
    expect(noBootstrap.status).toBe(2)
    expect(noBootstrap.stderr).toMatch(/--bootstrap \(or ISOKAFKA_GATEWAY_BOOTSTRAP \/ KAFKA_BOOTSTRAP.*\) is required/)
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [
        ['gateway', '--port', 'eighty'],
        { KAFKA_BOOTSTRAP: bootstrap, ISOKAFKA_GATEWAY_SECRET: CLI_SECRET },
        /--port must be an integer between 0 and 65535, got "eighty"/,
      ],
      [
        ['gateway', '--bogus'],
        { KAFKA_BOOTSTRAP: bootstrap, ISOKAFKA_GATEWAY_SECRET: CLI_SECRET },
        /unknown flag --bogus/,
      ],
      [
        ['gateway'],
        { KAFKA_BOOTSTRAP: bootstrap, ISOKAFKA_GATEWAY_SECRET: 'too-short-x' },
        /shorter than 16 characters/,
      ],
      [
        ['gateway'],
        { KAFKA_BOOTSTRAP: bootstrap, ISOKAFKA_GATEWAY_SECRET: CLI_SECRET, ISOKAFKA_GATEWAY_LOG_LEVEL: 'chatty' },
        /ISOKAFKA_GATEWAY_LOG_LEVEL must be one of/,
      ],
      [
        ['gateway', '--config', path.join(os.tmpdir(), 'no-such-isokafka.json')],
        { KAFKA_BOOTSTRAP: bootstrap, ISOKAFKA_GATEWAY_SECRET: CLI_SECRET },
        /cannot read config file .*no-such-isokafka\.json \(from --config\): ENOENT/,
      ],
    ]
    for (const [args, env, re] of cases) {
      const r = run(args, env)
      expect(r.status, r.stderr).toBe(2)
      expect(r.stderr).toMatch(re)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(r.stderr).not.toContain('too-short-x')
      expect(r.stdout).toBe('')
    }
  })

  it('isokafka gateway --help lists every setting with its variable and default', () => {
    const r = run(['gateway', '--help'])
    expect(r.status).toBe(0)
    for (const flag of [
      '--config',
      '--port',
      '--bootstrap',
      '--secret',
      '--origins',
      '--rate',
      '--max-unauthenticated-per-address',
      '--metrics-token',
      '--drain-timeout-ms',
      '--kafka-sasl-mechanism',
    ]) {
      expect(r.stdout).toContain(flag)
    }
    expect(r.stdout).toContain('ISOKAFKA_GATEWAY_MAX_FRAME_BYTES')
    expect(r.stdout).toMatch(/--port N +.*default 8080/)
  })

  it('isokafka gateway serves producers, enforces --origins, and stops cleanly on SIGTERM', async () => {
    const topic = uniqueTopic('gw-cli')
    await createTopic(bootstrap, topic, 2)
    const { child, url, wsUrl, err, exited } = await startGatewayCli(
      cli.bin,
      ['--port', '0', '--host', '127.0.0.1', '--bootstrap', bootstrap, '--origins', 'https://app.example'],
      { ISOKAFKA_GATEWAY_SECRET: CLI_SECRET },
    )
    try {
      const tok = run(['token', '--topics', topic, '--subject', 'cli'], {
        ISOKAFKA_GATEWAY_SECRET: CLI_SECRET,
      }).stdout.trim()
      const producer = createProducer({ transport: websocket({ url: wsUrl, token: tok, WebSocket }) })
      await Promise.all(Array.from({ length: 1000 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` })))
      await producer.close()
      expect((await readAllWithKcat(bootstrap, topic, 1000, 30_000)).length).toBe(1000)
      expect(await upgradeStatus(wsUrl, { origin: 'https://other.example' })).toBe(403)
      expect(await upgradeStatus(wsUrl, { origin: 'https://app.example' })).toBe(101)
      const metrics = await (await fetch(`${url}/metrics`)).text()
      expect(metrics).toMatch(/^isokafka_gateway_records_out_total 1000$/m)
    } finally {
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    }
    for (const line of err().split('\n').filter(Boolean))
      expect(JSON.parse(line)).toMatchObject({ level: expect.any(String), msg: expect.any(String) })
    expect(err()).not.toContain(CLI_SECRET)
  })
})
