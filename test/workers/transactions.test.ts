/// <reference types="node" />
// A transactional producer inside workerd (the Cloudflare Workers runtime, through Miniflare), held by a Durable
// Object across requests: one request commits a transaction, the next aborts one (after its records were written),
// a third commits again. kcat reads the topic back with isolation.level=read_committed (only the committed ones) and
// read_uncommitted (all of them).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Miniflare as MiniflareType } from 'miniflare'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bootstrap = inject('kafkaBootstrap')
const topic = uniqueTopic('workers-txn')
let mf: MiniflareType

beforeAll(async () => {
  const { Miniflare } = await import('miniflare')
  const result = await build({
    entryPoints: [path.join(root, 'test/workers/transactions-worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    external: ['cloudflare:*'],
  })
  await createTopic(bootstrap, topic, 3)
  mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'index.js', contents: result.outputFiles[0]!.text }],
    compatibilityDate: '2025-09-01',
    durableObjects: { PRODUCER: 'TransactionalProducer' },
    bindings: { KAFKA_BOOTSTRAP: bootstrap },
  })
  await mf.ready
})

afterAll(async () => {
  await mf?.dispose()
})

async function run(end: 'commit' | 'abort', values: string[]): Promise<any> {
  const res = await mf.dispatchFetch(`http://txn.test/?topic=${topic}&end=${end}`, {
    method: 'POST',
    body: JSON.stringify(values),
  })
  const text = await res.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`the Worker answered ${res.status}: ${text.slice(0, 2000)}`)
  }
}

describe('transactions in workerd (Durable Object)', () => {
  it('commit and abort across requests: read_committed sees the committed records only', async () => {
    const first = Array.from({ length: 50 }, (_, i) => `commit-1-${i}`)
    const aborted = Array.from({ length: 30 }, (_, i) => `abort-${i}`)
    const second = Array.from({ length: 20 }, (_, i) => `commit-2-${i}`)
    const a = await run('commit', first)
    expect(a.ok, JSON.stringify(a)).toBe(true)
    const b = await run('abort', aborted)
    expect(b.ok, JSON.stringify(b)).toBe(true)
    const c = await run('commit', second)
    expect(c.ok, JSON.stringify(c)).toBe(true)
    const read = (level: 'read_committed' | 'read_uncommitted', n: number) =>
      readAllWithKcat(bootstrap, topic, n, 20_000, { isolationLevel: level }).then((rs) =>
        rs.map((r) => Buffer.from(r.value!).toString()).sort(),
      )
    expect(await read('read_committed', 70)).toEqual([...first, ...second].sort())
    expect(await read('read_uncommitted', 100)).toEqual([...first, ...aborted, ...second].sort())
  })
})
