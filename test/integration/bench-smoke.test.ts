/// <reference types="node" />
// `npm run bench` is not part of npm test (it takes minutes); its smoke run is: tiny record counts, one round,
// isokafka (produce() and send()), KafkaJS and Java's ProducerPerformance on the test broker, plus the acking sink.
// bench/run.mjs exits 1 when any producer fails or the broker's offsets disagree with the records sent.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, inject, it } from 'vitest'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bootstrap: string = inject('kafkaBootstrap') ?? process.env.KAFKA_BOOTSTRAP ?? ''

describe('npm run bench:smoke', () => {
  it('runs every smoke scenario and producer to completion, with results written', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'isokafka-bench-smoke-test-'))
    const out = path.join(dir, 'smoke.json')
    try {
      const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(root, 'bench/run.mjs'), '--smoke', '--bootstrap', bootstrap, '--out', out, '--no-docs', '--no-warmup'], {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let output = ''
        child.stdout.on('data', (d) => (output += d))
        child.stderr.on('data', (d) => (output += d))
        child.on('close', (c) => resolve({ code: c, output }))
      })
      expect(code, output.slice(-3000)).toBe(0)
      const results = JSON.parse(readFileSync(out, 'utf8'))
      const ran = new Set(results.runs.filter((r: { ok: boolean }) => r.ok).map((r: { producer: string }) => r.producer))
      expect([...ran].sort()).toEqual(['isokafka', 'isokafka-send', 'java', 'kafkajs'])
      expect(results.runs.every((r: { ok: boolean; skipped?: boolean }) => r.ok || r.skipped)).toBe(true)
      expect(results.summary.scenarios.memory.producers.isokafka.rssOverIdleBytes.median).toBeGreaterThan(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
