import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '../..')
// 60,000 records: more than the drill's window of 50,000 sends, so the stream goes on after the kill (the second window
// goes to the new leaders, the broker's restart overlaps it). FAILOVER_RECORDS=150000 (or more) for a longer stream.
const RECORDS = Number(process.env.FAILOVER_RECORDS ?? 60_000)

function runDrill(
  args: string[],
): Promise<{ code: number | null; result: Record<string, unknown> | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/failover.mjs', '--json', ...args], {
      cwd: root,
      // the 3 brokers with the C1 JIT only (scripts/kafka.mjs adds ISOKAFKA_BROKER_JVM_OPTS): 3 JVMs compiling with C2
      // on 2 cores made the drill ~8 s slower (start, failover and produce); a longer-lived single broker gains nothing
      env: {
        ...process.env,
        ISOKAFKA_BROKER_JVM_OPTS: process.env.ISOKAFKA_BROKER_JVM_OPTS ?? '-XX:TieredStopAtLevel=1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      let result: Record<string, unknown> | null = null
      try {
        result = JSON.parse(line)
      } catch {}
      resolve({ code, result, stderr: err })
    })
  })
}

describe('failover on a real 3-node cluster (replication 3, min.insync.replicas 2)', () => {
  it(`${RECORDS} keyed records, acks=all, idempotent; the busiest leader is SIGKILLed mid-stream and restarted`, async () => {
    const { code, result, stderr } = await runDrill([
      '--records',
      String(RECORDS),
      '--name',
      'vitest-failover',
      // restarted once its partitions have new leaders that acked records sent after the kill (+1 s), at most 30 s down
      '--restart-after-failover',
      '--down-ms',
      '30000',
    ])
    expect(result, stderr).not.toBeNull()
    console.log('failover drill:', JSON.stringify(result))
    expect(result).toMatchObject({ lost: 0, duplicates: 0, reordered: 0, unresolved: 0 })
    expect(result!.acked as number).toBeGreaterThan(0)
    expect((result!.acked as number) + (result!.failed as number)).toBe(RECORDS)
    // the kill really happened mid-stream, and leadership moved while the broker was down
    expect(result!.killedBroker).not.toBe(-1)
    expect(result!.failoverMs).not.toBeNull()
    expect(result!.failoverMs as number).toBeLessThan(result!.downMs as number)
    expect(code).toBe(0)
  })
})
