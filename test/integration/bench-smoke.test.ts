/// <reference types="node" />
// `npm run bench` is not part of npm test (it takes minutes); its smoke run is: tiny record counts, one round,
// isokafka (produce() and send()), KafkaJS and Java's ProducerPerformance on the test broker, plus the acking sink
// and the gateway (one client per transport, 20 clients for 2 s).
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
        const child = spawn(
          process.execPath,
          [
            path.join(root, 'bench/run.mjs'),
            '--smoke',
            '--bootstrap',
            bootstrap,
            '--out',
            out,
            '--no-docs',
            '--no-warmup',
          ],
          {
            cwd: root,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        )
        let output = ''
        child.stdout.on('data', (d) => (output += d))
        child.stderr.on('data', (d) => (output += d))
        child.on('close', (c) => resolve({ code: c, output }))
      })
      expect(code, output.slice(-3000)).toBe(0)
      const results = JSON.parse(readFileSync(out, 'utf8'))
      const ran = new Set(
        results.runs.filter((r: { ok: boolean }) => r.ok).map((r: { producer: string }) => r.producer),
      )
      expect([...ran].sort()).toEqual(['isokafka', 'isokafka-send', 'java', 'kafkajs'])
      expect(results.runs.every((r: { ok: boolean; skipped?: boolean }) => r.ok || r.skipped)).toBe(true)
      expect(results.summary.scenarios.memory.producers.isokafka.rssOverIdleBytes.median).toBeGreaterThan(0)
      // the gateway part: one client over each transport and a many-client load run, every ack read back by kcat
      type GwRun = {
        ok: boolean
        transport?: string
        acked?: number
        ackedRecords?: number
        inKafka: number
        lost?: number
        duplicates?: number
      }
      const gw = results.gateway as { single: GwRun[]; load: GwRun[] }
      expect(gw.single.map((r) => r.transport).sort()).toEqual(['fetch', 'tcp', 'websocket'])
      for (const r of gw.single) expect([r.ok, r.inKafka]).toEqual([true, r.acked])
      expect(gw.load.length).toBeGreaterThan(0)
      for (const r of gw.load) {
        expect(r.ackedRecords).toBeGreaterThan(0)
        expect([r.ok, r.inKafka, r.lost, r.duplicates]).toEqual([true, r.ackedRecords, 0, 0])
      }
      // the call shapes (bench/api-shapes.mjs), as ratios to produce()
      const shapes = results.apiShapes as {
        ok: boolean
        shapes: Record<string, { recordsPerSec: number; ratioToProduce: number }>
      }
      expect(shapes.ok).toBe(true)
      expect(Object.keys(shapes.shapes)).toEqual(['produce', 'all', 'batch'])
      expect(shapes.shapes.produce!.ratioToProduce).toBe(1)
      for (const r of Object.values(shapes.shapes)) expect(r.recordsPerSec).toBeGreaterThan(0)
      expect(results.summary.apiShapes.shapes.batch.ratioToProduce).toBeGreaterThan(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
