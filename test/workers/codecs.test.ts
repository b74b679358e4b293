/// <reference types="node" />
// gzip, snappy, lz4 and zstd inside workerd (the Cloudflare Workers runtime, through Miniflare) against the real broker:
// each codec produces JSON events over the Workers TCP transport; kcat reads them back byte-exact, and the broker's
// log segment shows every batch with that codec (attributes read from the file). zstd's WebAssembly is given to the
// Worker as a module (wrangler's `.wasm` import), since workerd refuses to compile WebAssembly from bytes; the test
// checks that `compression: 'zstd'` without it fails with the way out in its message instead of hanging.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Miniflare as MiniflareType } from 'miniflare'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bootstrap = inject('kafkaBootstrap')
const CODECS = [
  ['gzip', 1],
  ['snappy', 2],
  ['lz4', 3],
  ['zstd', 4],
] as const
const N = 2000
const topics = Object.fromEntries(CODECS.map(([c]) => [c, uniqueTopic(`workers-${c}`)])) as Record<string, string>
let mf: MiniflareType
let bundleText = ''

function records(codec: string): Array<{ key: string; value: string }> {
  return Array.from({ length: N }, (_, i) => ({
    key: `${codec}-${i % 50}`,
    value: Buffer.from(
      JSON.stringify({
        i,
        codec,
        user: `user-${(i * 7919) % 5000}`,
        type: ['click', 'view', 'purchase'][i % 3],
        note: 'lorem ipsum dolor sit amet '.repeat(8 + (i % 25)),
      }),
    ).toString('hex'),
  }))
}

/** Codec ids (attributes & 7) of every batch in the topic's partition-0 log segments, read from the broker's files. */
function codecsInLog(topic: string): number[] | null {
  const stateRoot = path.join(process.env.TMPDIR || '/tmp', 'isokafka-kafka') // as scripts/kafka.mjs stateRoot()
  for (const name of existsSync(stateRoot) ? readdirSync(stateRoot) : []) {
    const file = path.join(stateRoot, name, 'state.json')
    if (!existsSync(file)) continue
    const state = JSON.parse(readFileSync(file, 'utf8')) as { bootstrap?: string; nodes?: Array<{ dataDir: string }> }
    if (state.bootstrap !== bootstrap || state.nodes?.length !== 1) continue
    const dir = path.join(state.nodes[0]!.dataDir, `${topic}-0`)
    const ids: number[] = []
    for (const seg of readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .sort()) {
      const buf = readFileSync(path.join(dir, seg))
      // RecordBatch: baseOffset int64, batchLength int32, leaderEpoch int32, magic int8, crc int32, attributes int16
      for (let p = 0; p + 23 <= buf.length; p += 12 + buf.readInt32BE(p + 8)) ids.push(buf.readInt16BE(p + 21) & 7)
    }
    return ids
  }
  return null
}

beforeAll(async () => {
  const { Miniflare } = await import('miniflare')
  const result = await build({
    entryPoints: [path.join(root, 'test/workers/codecs-worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*', './zstd.wasm'],
  })
  bundleText = result.outputFiles[0]!.text
  await Promise.all(CODECS.map(([c]) => createTopic(bootstrap, topics[c]!, 1)))
  mf = new Miniflare({
    modules: [
      { type: 'ESModule', path: 'index.js', contents: result.outputFiles[0]!.text },
      { type: 'CompiledWasm', path: 'zstd.wasm', contents: readFileSync(path.join(root, 'src/codecs/zstd.wasm')) },
    ],
    compatibilityDate: '2025-09-01',
    bindings: { KAFKA_BOOTSTRAP: bootstrap },
  })
  await mf.ready
})

afterAll(async () => {
  await mf?.dispose()
})

async function produce(codec: string, topic: string, body: Array<{ key: string; value: string }>): Promise<any> {
  const res = await mf.dispatchFetch(`http://codecs.test/?codec=${codec}&topic=${topic}`, {
    method: 'POST',
    body: JSON.stringify(body),
  })
  const text = await res.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`the Worker answered ${res.status}: ${text.slice(0, 2000)}`)
  }
}

describe('codecs in workerd', () => {
  it("a Worker's bundle of the package leaves snappy's and lz4's WebAssembly out ('#<codec>-wasm' are stubs under workerd)", async () => {
    // this test's Worker imports src/ and so carries the bytes: there workerd refuses to compile them, and the snappy
    // and lz4 cases below run on the TypeScript matchers that way; an application bundles dist/ through the package's
    // imports
    const heads = ['snappy', 'lz4'].map(
      (c) => /'([A-Za-z0-9+/]{60})/.exec(readFileSync(path.join(root, `src/codecs/${c}-wasm.ts`), 'utf8'))![1]!,
    )
    for (const head of heads) expect(bundleText).toContain(head)
    const app = await build({
      stdin: {
        contents: `export * from '${path.join(root, 'dist/workers.js')}'`,
        resolveDir: root,
      },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      write: false,
      logLevel: 'silent',
      conditions: ['workerd', 'worker', 'browser'],
      external: ['cloudflare:*'],
    })
    const text = app.outputFiles[0]!.text
    expect(text).toContain('snappyCompressTs')
    expect(text).toContain('lz4CompressTs')
    for (const head of heads) expect(text).not.toContain(head)
  })

  it.each(CODECS)(
    '%s: kcat reads the records byte-exact; every batch in the log has codec id %i',
    async (codec, id) => {
      const sent = records(codec)
      const body = await produce(codec, topics[codec]!, sent)
      expect(body.ok, JSON.stringify(body)).toBe(true)
      const read = await readAllWithKcat(bootstrap, topics[codec]!, N, 30_000)
      expect(read).toHaveLength(N)
      const at = new Map(read.map((r) => [r.offset, r]))
      for (const [i, [, offset]] of (body.positions as Array<[number, number]>).entries()) {
        const r = at.get(offset)!
        expect([Buffer.from(r.key!).toString(), Buffer.from(r.value!).toString('hex')], `record ${i}`).toEqual([
          sent[i]!.key,
          sent[i]!.value,
        ])
      }
      const ids = codecsInLog(topics[codec]!)
      if (ids !== null || process.env.CI) {
        expect(ids!.length).toBeGreaterThan(1)
        expect(new Set(ids)).toEqual(new Set([id]))
      }
    },
  )

  it("compression: 'zstd' without the module fails its sends, saying how to pass the module", async () => {
    const body = await produce('zstd-by-name', topics.zstd!, records('zstd').slice(0, 3))
    expect(body.ok).toBe(false)
    expect(body).toMatchObject({
      ok: false,
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('isokafka/zstd.wasm'),
    })
    expect(body.cause).toMatch(/WebAssembly/)
  })
})
