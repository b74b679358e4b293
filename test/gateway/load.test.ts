/// <reference types="node" />
// 1,000 concurrent WebSocket clients on one gateway process for 6 s (LOAD_SECONDS; 20 or more for the full drill, see
// docs/testing.md) at 10 records/s each (scripts/gateway-load.mjs): every offered record acknowledged within 5 s (p99)
// and in Kafka where its ack said, none twice; the gateway's RSS is reported.
import { describe, expect, inject, it } from 'vitest'
import { spawn } from 'node:child_process'
import path from 'node:path'

const bootstrap = inject('kafkaBootstrap')
const root = path.resolve(import.meta.dirname, '../..')
const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 1000)
const SECONDS = Number(process.env.LOAD_SECONDS ?? 6)

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
    // The clients' schedule (10 records/s each) is kept by one process with all 1,000 producers: on 2 shared cores it
    // offers 42-55 % of it (its own CPU, not the gateway, sets that), so the drill only asks that it ran loaded (a
    // fifth of the schedule). The gateway's part: every record offered is acked, and within 5 s (p99) of its send().
    expect(result.sent).toBeGreaterThan(CLIENTS * SECONDS * 2)
    expect(result.acked).toBe(result.sent)
    expect(result.ackLatencyMs.p99, `ack latency ${JSON.stringify(result.ackLatencyMs)}`).toBeLessThan(5000)
    expect(result).toMatchObject({ failed: 0, lost: 0, misplaced: 0, duplicates: 0 })
    expect(result.inKafka).toBe(result.acked)
    expect(code).toBe(0)
  })
})
