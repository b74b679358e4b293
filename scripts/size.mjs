#!/usr/bin/env node
// Bundle size of what an application ships: esbuild (the one tsup brings), ESM, tree-shaken, from the sources.
//
//   node scripts/size.mjs                  table: raw (bundled, not minified), minified, gzip -9 of the minified
//   node scripts/size.mjs --json           the same as JSON (plus the largest modules of each bundle)
//   node scripts/size.mjs --budget 12      exit 1 when the browser bundle is over 12 KiB gzipped ("12kb", "12288b" too)
//   node scripts/size.mjs --top 15         list the 15 largest modules per bundle (default 8; 0 for none)
//
// Bundles (each an entry that imports only what an application would):
//   browser  createProducer (src/index.ts) + websocket (adapters/websocket), platform browser
//   worker   createProducer + workersSocket (adapters/workers-socket), 'cloudflare:sockets' external
//   core     createProducer alone
//   core-all every export of src/index.ts (what `import * as k from 'isokafka'` would keep)
// A transport folder that does not exist yet makes its bundle core-only, marked in the output.
// "Largest modules" comes from esbuild's metafile: bytes each input file contributes to the minified output.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const rel = (p) => path.join(root, p)

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

/** The bundles to measure, each with an entry source; transports missing from the tree become core-only. */
function bundles() {
  const hasWebsocket = fs.existsSync(rel('adapters/websocket/index.ts'))
  const hasWorkers = fs.existsSync(rel('adapters/workers-socket/index.ts'))
  return [
    {
      name: 'browser',
      what: hasWebsocket ? 'core + WebSocket transport' : 'core only (adapters/websocket missing)',
      complete: hasWebsocket,
      platform: 'browser',
      source: hasWebsocket
        ? `export { createProducer } from './src/index.ts'\nexport { websocket } from './adapters/websocket/index.ts'\n`
        : `export { createProducer } from './src/index.ts'\n`,
    },
    {
      name: 'worker',
      what: hasWorkers ? 'core + Workers TCP (cloudflare:sockets)' : 'core only (adapters/workers-socket missing)',
      complete: hasWorkers,
      platform: 'browser',
      external: ['cloudflare:sockets'],
      conditions: ['workerd', 'worker', 'browser'],
      source: hasWorkers
        ? `export { createProducer } from './src/index.ts'\nexport { workersSocket } from './adapters/workers-socket/index.ts'\n`
        : `export { createProducer } from './src/index.ts'\n`,
    },
    { name: 'core', what: 'createProducer alone', complete: true, platform: 'neutral', source: `export { createProducer } from './src/index.ts'\n` },
    { name: 'core-all', what: 'every export of src/index.ts', complete: true, platform: 'neutral', source: `export * from './src/index.ts'\n` },
  ]
}

async function bundle(b, minify) {
  const result = await build({
    stdin: { contents: b.source, resolveDir: root, sourcefile: `size-entry-${b.name}.ts`, loader: 'ts' },
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    platform: b.platform,
    // neutral has no main fields by default: look at "module"/"main" like a bundler would for dependencies
    mainFields: b.platform === 'neutral' ? ['module', 'main'] : undefined,
    conditions: b.conditions,
    external: b.external ?? [],
    treeShaking: true,
    minify,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
  })
  const out = result.outputFiles[0].contents
  return { bytes: out, metafile: result.metafile }
}

function modulesOf(metafile) {
  const output = Object.values(metafile.outputs)[0]
  const total = output.bytes
  return Object.entries(output.inputs)
    .map(([file, info]) => ({ file: file.replace(/^.*node_modules\//, 'node_modules/'), bytes: info.bytesInOutput }))
    .filter((m) => m.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes)
    .map((m) => ({ ...m, share: Math.round((m.bytes / total) * 1000) / 10 }))
}

async function measure(b) {
  const raw = await bundle(b, false)
  const min = await bundle(b, true)
  const gz = zlib.gzipSync(min.bytes, { level: 9 })
  return {
    name: b.name,
    what: b.what,
    complete: b.complete,
    raw: raw.bytes.length,
    minified: min.bytes.length,
    gzip: gz.length,
    modules: modulesOf(min.metafile),
  }
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`

function table(results, opts) {
  const head = ['bundle', 'contents', 'raw', 'minified', 'gzip -9']
  const rows = results.map((r) => [r.name, r.what, kb(r.raw), kb(r.minified), kb(r.gzip)])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)]
  if (opts.top > 0) {
    for (const r of results) {
      out.push('', `${r.name}: largest modules (minified bytes in the bundle, share)`)
      for (const m of r.modules.slice(0, opts.top)) out.push(`  ${String(m.bytes).padStart(7)}  ${String(m.share).padStart(5)} %  ${m.file}`)
    }
  }
  return out.join('\n')
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const results = []
  for (const b of bundles()) results.push(await measure(b))
  const browser = results.find((r) => r.name === 'browser')
  const overBudget = opts.budget !== null && browser.gzip > opts.budget

  if (opts.json) {
    const doc = {
      esbuild: (await import('esbuild')).version,
      budget: opts.budget === null ? null : { browserGzipBytes: opts.budget, ok: !overBudget },
      bundles: results.map((r) => ({ ...r, modules: opts.top > 0 ? r.modules.slice(0, opts.top) : r.modules })),
    }
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
  } else {
    process.stdout.write(table(results, opts) + '\n')
    for (const r of results) if (!r.complete) process.stdout.write(`\nnote: ${r.name} is ${r.what}\n`)
    if (opts.budget !== null) {
      process.stdout.write(
        `\nbudget: browser ${kb(browser.gzip)} gzipped ${overBudget ? '>' : '<='} ${kb(opts.budget)}: ${overBudget ? 'OVER BUDGET' : 'ok'}\n`,
      )
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
