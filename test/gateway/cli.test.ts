/// <reference types="node" />
// bin/isokafka.mjs: `isokafka token` and `isokafka gateway` as a separate process. The CLI loads ../dist/gateway.js;
// this test bundles adapters/gateway/index.ts to that place in a temporary copy, so it does not need `npm run build`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createProducer } from '../../src/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { verifyGatewayToken } from '../../adapters/gateway/token.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { RawClient, token } from './helpers.js'

const bootstrap = inject('kafkaBootstrap')
const root = path.resolve(import.meta.dirname, '../..')
const CLI_SECRET = 'cli-secret-0123456789'
let dir: string
let bin: string

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'isokafka-cli-'))
  mkdirSync(path.join(dir, 'bin'))
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'))
  bin = path.join(dir, 'bin', 'isokafka.mjs')
  copyFileSync(path.join(root, 'bin', 'isokafka.mjs'), bin)
  await build({
    entryPoints: [path.join(root, 'adapters/gateway/index.ts')],
    outfile: path.join(dir, 'dist', 'gateway.js'),
    bundle: true, platform: 'node', format: 'esm', external: ['ws', '@msgpack/msgpack'], logLevel: 'silent',
  })
})
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function startCli(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve({ child, url: m[1]! })
    })
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code) => reject(new Error(`the CLI exited with ${code}: ${err}`)))
    setTimeout(() => reject(new Error(`the CLI did not start: ${out} ${err}`)), 20_000)
  })
}

describe('isokafka CLI', () => {
  it('isokafka token prints a verifiable token; bad arguments exit 2 with usage', async () => {
    const r = spawnSync(process.execPath, [bin, 'token', '--topics', 'a,b*', '--expires', '60', '--subject', 'cli'], { env: { ...process.env, ISOKAFKA_GATEWAY_SECRET: CLI_SECRET }, encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(await verifyGatewayToken(r.stdout.trim(), CLI_SECRET)).toMatchObject({ ok: true, claims: { sub: 'cli', topics: ['a', 'b*'] } })
    const bad = spawnSync(process.execPath, [bin, 'gateway', '--port', '0'], { env: { ...process.env, KAFKA_BOOTSTRAP: '', ISOKAFKA_GATEWAY_SECRET: '' }, encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--bootstrap/)
    expect(bad.stderr).toMatch(/usage:/)
  })

  it('isokafka gateway serves producers, enforces --origins, and stops cleanly on SIGTERM', async () => {
    const topic = uniqueTopic('gw-cli')
    await createTopic(bootstrap, topic, 2)
    const { child, url } = await startCli(['gateway', '--port', '0', '--host', '127.0.0.1', '--bootstrap', bootstrap, '--origins', 'https://app.example'], { ISOKAFKA_GATEWAY_SECRET: CLI_SECRET })
    try {
      const wsUrl = `${url.replace(/^http/, 'ws')}/v1/ws`
      const producer = createProducer({ transport: websocket({ url: wsUrl, token: await token([topic], { secret: CLI_SECRET }), WebSocket }) })
      await Promise.all(Array.from({ length: 1000 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` })))
      await producer.close()
      expect((await readAllWithKcat(bootstrap, topic, 1000, 30_000)).length).toBe(1000)
      await expect(RawClient.open(wsUrl, { origin: 'https://other.example' })).rejects.toMatchObject({ status: 403 })
      const metrics = (await (await fetch(`${url}/metrics`)).json()) as { records: { out: number } }
      expect(metrics.records.out).toBe(1000)
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    }
  })
})
