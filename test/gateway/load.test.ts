/// <reference types="node" />
// 1,000 concurrent WebSocket clients on one gateway process for 10 s (LOAD_SECONDS; 20 or more for the full drill, see
// docs/testing.md) at 10 records/s each (scripts/gateway-load.mjs): every acknowledged record must be in Kafka where its
// ack said, none twice, and at least half the offered records acknowledged; the gateway's RSS is reported.
import { describe, expect, inject, it } from 'vitest'
import { spawn } from 'node:child_process'
import path from 'node:path'

const bootstrap = inject('kafkaBootstrap')
const root = path.resolve(import.meta.dirname, '../..')
const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 1000)
const SECONDS = Number(process.env.LOAD_SECONDS ?? 10)

describe('gateway under load', () => {
  it(`${CLIENTS} WebSocket clients producing for ${SECONDS} s through one gateway`, async () => {
    const { code, out, err } = await new Promise<{ code: number | null; out: string; err: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            'scripts/gateway-load.mjs',
            '--json',
            '--clients',
            String(CLIENTS),
            '--seconds',
            String(SECONDS),
            '--bootstrap',
            bootstrap,
          ],
          {
            cwd: root,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        )
        let out = ''
        let err = ''
        child.stdout.on('data', (d) => (out += d))
        child.stderr.on('data', (d) => (err += d))
        child.on('error', reject)
        child.on('close', (code) => resolve({ code, out, err }))
      },
    )
    const result = JSON.parse(out.trim().split('\n').pop() ?? 'null')
    expect(result, err).not.toBeNull()
    console.log('[gateway load]', JSON.stringify(result))
    expect(result.gatewayMetrics.connectionsTotal).toBeGreaterThanOrEqual(CLIENTS)
    // half of the offered 10 records/s per client, for as long as it ran
    expect(result.acked).toBeGreaterThan(CLIENTS * SECONDS * 5)
    expect(result).toMatchObject({ failed: 0, lost: 0, misplaced: 0, duplicates: 0 })
    expect(result.inKafka).toBe(result.acked)
    expect(code).toBe(0)
  })
})
