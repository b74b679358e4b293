#!/usr/bin/env node
// Bundle size of what an application ships: the built package (dist/) resolved through its package.json "exports",
// as Vite or esbuild in an application resolve `import ... from 'isokafka'`; esbuild (the one tsup brings), ESM,
// tree-shaken. Run `npm run build` first (`npm run size` does).
//
//   node scripts/size.mjs                  table: raw (bundled, not minified), minified, gzip -9 of the minified
//   node scripts/size.mjs --json           the same as JSON (plus the largest modules of each bundle)
//   node scripts/size.mjs --budget 12      exit 1 when a browser bundle (WebSocket or fetch) is over 12 KiB gzipped
//                                          ("12kb", "12288b" too)
//   node scripts/size.mjs --top 15         list the 15 largest modules per bundle (default 8; 0 for none)
//
// Bundles (each an entry that imports only what an application would):
//   websocket  createProducer ('isokafka') + websocket ('isokafka/websocket'), platform browser    (budgeted)
//   fetch      createProducer + fetchTransport ('isokafka/fetch'), platform browser               (budgeted)
//   outbox     the WebSocket bundle + indexedDbOutbox ('isokafka/outbox')
//   worker     createProducer + workersSocket ('isokafka/workers'), 'cloudflare:sockets' external
//   node       createProducer + tcp ('isokafka/node'), platform node
//   core       createProducer alone
//   gateway    createProducer + gatewayBackend (the gateway sender both browser bundles carry, without a transport)
// "Largest modules" comes from esbuild's metafile: bytes each input file contributes to the minified output.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function parseArgs(argv) {
  const opts = { json: false, budget: null, top: 8 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--json') opts.json = true
    else if (a === '--budget' || a.startsWith('--budget=')) opts.budget = parseSize(value())
    else if (a === '--top' || a.startsWith('--top=')) opts.top = Number(value())
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node scripts/size.mjs [--json] [--budget KiB|NNNb|NNkb] [--top N]\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  return opts
}

/** "12", "12kb", "12KiB" → KiB; "12288b" → bytes. Returns bytes. */
function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|k)?$/i.exec(String(s).trim())
  if (!m) throw new Error(`--budget: cannot read ${JSON.stringify(s)} (e.g. 12, 12kb, 12288b)`)
  const n = Number(m[1])
  return Math.round(m[2]?.toLowerCase() === 'b' ? n : n * 1024)
}

/** The bundles to measure: `source` imports the package by name, as an application does. */
function bundles() {
  const ws = `export { createProducer } from 'isokafka'\nexport { websocket } from 'isokafka/websocket'\n`
  return [
    { name: 'websocket', what: 'createProducer + websocket', budgeted: true, platform: 'browser', source: ws },
    {
      name: 'fetch',
      what: 'createProducer + fetchTransport',
      budgeted: true,
      platform: 'browser',
      source: `export { createProducer } from 'isokafka'\nexport { fetchTransport } from 'isokafka/fetch'\n`,
    },
    {
      name: 'outbox',
      what: 'websocket + indexedDbOutbox',
      platform: 'browser',
      source: `${ws}export { indexedDbOutbox } from 'isokafka/outbox'\n`,
    },
    {
      name: 'worker',
      what: 'createProducer + workersSocket',
      platform: 'browser',
      external: ['cloudflare:sockets'],
      conditions: ['workerd', 'worker', 'browser'],
      source: `export { createProducer } from 'isokafka'\nexport { workersSocket } from 'isokafka/workers'\n`,
    },
    {
      name: 'node',
      what: 'createProducer + tcp',
      platform: 'node',
      source: `export { createProducer } from 'isokafka'\nexport { tcp } from 'isokafka/node'\n`,
    },
    {
      name: 'core',
      what: 'createProducer alone',
      platform: 'neutral',
      source: `export { createProducer } from 'isokafka'\n`,
    },
    {
      // what the two browser bundles share: the part of them that is neither core nor transport
      name: 'gateway',
      what: 'createProducer + gatewayBackend',
      platform: 'browser',
      source: `export { createProducer, gatewayBackend } from 'isokafka'\n`,
    },
  ]
}

/** A directory whose node_modules/isokafka is this package: imports resolve through package.json "exports" to dist/. */
function consumerDir() {
  if (!fs.existsSync(path.join(root, 'dist/index.js')))
    throw new Error('dist/ is missing: run `npm run build` first (or `npm run size`)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isokafka-size-'))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'isokafka'), 'dir')
  return dir
}

/**
 * Bundles as an application's bundler would, with code splitting: what a dynamic import() reaches (codecs, the REST
 * Proxy modes) becomes a chunk of its own, loaded only when used. The size counted is what loads up front: the entry
 * chunk and the chunks it imports statically; the lazy chunks are reported beside it.
 */
async function bundle(b, minify, dir) {
  const entry = path.join(dir, `size-entry-${b.name}.js`)
  fs.writeFileSync(entry, b.source)
  const result = await build({
    entryPoints: [entry],
    outdir: path.join(dir, `out-${b.name}-${minify ? 'min' : 'raw'}`),
    splitting: true,
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    platform: b.platform,
    // neutral has no main fields by default: look at "module"/"main" like a bundler would for dependencies
    mainFields: b.platform === 'neutral' ? ['module', 'main'] : undefined,
    conditions: b.conditions,
    external: [...(b.external ?? []), 'ws', '@msgpack/msgpack'],
    treeShaking: true,
    minify,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
  })
  const outputs = result.metafile.outputs
  const files = new Map(result.outputFiles.map((f) => [path.relative(process.cwd(), f.path), f.contents]))
  const start = Object.keys(outputs).find((k) => outputs[k].entryPoint !== undefined)
  const eager = new Set()
  const visit = (k) => {
    if (eager.has(k)) return
    eager.add(k)
    for (const i of outputs[k].imports) if (i.kind === 'import-statement' && outputs[i.path]) visit(i.path)
  }
  visit(start)
  // chunks the up-front code can import later (a chunk esbuild emits for a dynamic import in code that tree shaking
  // dropped is not counted: nothing loads it)
  const lazySet = new Set()
  const reach = (k) => {
    for (const i of outputs[k].imports) {
      if (!outputs[i.path] || eager.has(i.path) || lazySet.has(i.path)) continue
      if (i.kind !== 'dynamic-import' && !lazySet.has(k)) continue
      lazySet.add(i.path)
      reach(i.path)
    }
  }
  for (const k of eager) reach(k)
  const lazy = [...lazySet]
  const concat = (keys) => Buffer.concat(keys.map((k) => Buffer.from(files.get(k) ?? new Uint8Array())))
  return {
    bytes: concat([...eager]),
    lazyBytes: concat(lazy),
    metafile: { outputs: Object.fromEntries([...eager].map((k) => [k, outputs[k]])) },
  }
}

function modulesOf(metafile) {
  const outputs = Object.values(metafile.outputs)
  const total = outputs.reduce((n, o) => n + o.bytes, 0)
  return outputs
    .flatMap((o) => Object.entries(o.inputs))
    .map(([file, info]) => ({
      file: path.relative(root, path.resolve(root, file)).replace(/^.*node_modules\//, 'node_modules/'),
      bytes: info.bytesInOutput,
    }))
    .filter((m) => m.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes)
    .map((m) => ({ ...m, share: Math.round((m.bytes / total) * 1000) / 10 }))
}

async function measure(b, dir) {
  const raw = await bundle(b, false, dir)
  const min = await bundle(b, true, dir)
  const gz = zlib.gzipSync(min.bytes, { level: 9 })
  return {
    name: b.name,
    what: b.what,
    budgeted: b.budgeted === true,
    raw: raw.bytes.length,
    minified: min.bytes.length,
    gzip: gz.length,
    lazyGzip: min.lazyBytes.length > 0 ? zlib.gzipSync(min.lazyBytes, { level: 9 }).length : 0,
    modules: modulesOf(min.metafile),
  }
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`

function table(results, opts) {
  const head = ['bundle', 'contents', 'raw', 'minified', 'gzip -9', 'lazy chunks, gzip']
  const rows = results.map((r) => [r.name, r.what, kb(r.raw), kb(r.minified), kb(r.gzip), kb(r.lazyGzip)])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)]
  if (opts.top > 0) {
    for (const r of results) {
      out.push('', `${r.name}: largest modules (minified bytes in the bundle, share)`)
      for (const m of r.modules.slice(0, opts.top))
        out.push(`  ${String(m.bytes).padStart(7)}  ${String(m.share).padStart(5)} %  ${m.file}`)
    }
  }
  return out.join('\n')
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const results = []
  const dir = consumerDir()
  try {
    for (const b of bundles()) results.push(await measure(b, dir))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const over = opts.budget === null ? [] : results.filter((r) => r.budgeted && r.gzip > opts.budget)
  const overBudget = over.length > 0

  if (opts.json) {
    const doc = {
      esbuild: (await import('esbuild')).version,
      budget:
        opts.budget === null
          ? null
          : { gzipBytes: opts.budget, bundles: results.filter((r) => r.budgeted).map((r) => r.name), ok: !overBudget },
      bundles: results.map((r) => ({ ...r, modules: opts.top > 0 ? r.modules.slice(0, opts.top) : r.modules })),
    }
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
  } else {
    process.stdout.write(table(results, opts) + '\n')
    if (opts.budget !== null) {
      for (const r of results.filter((x) => x.budgeted)) {
        const bad = r.gzip > opts.budget
        process.stdout.write(
          `\nbudget: ${r.name} ${kb(r.gzip)} gzipped ${bad ? '>' : '<='} ${kb(opts.budget)}: ${bad ? 'OVER BUDGET' : 'ok'}`,
        )
      }
      process.stdout.write('\n')
    }
  }
  return overBudget ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`[size] ${e.errors?.length ? e.errors.map((x) => x.text).join('\n') : e.stack || e.message}\n`)
    process.exit(2)
  },
)
