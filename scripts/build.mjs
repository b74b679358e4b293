#!/usr/bin/env node
// `npm run build`: tsup, unless dist/ was built from exactly these inputs. A build takes ~40 s on 2 cores, and every
// test, bench and size script starts with one (.ci/run builds for the size check, then `npm test` builds again), so
// the inputs' SHA-256 (src/, adapters/, tsup.config.ts, package.json, package-lock.json (the tsup, esbuild and
// TypeScript that build), tsconfig*.json; every file's path and bytes) is
// kept in dist/.inputs-sha256 and a build whose inputs match it is skipped. `--force` always builds.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const STAMP = path.join(ROOT, 'dist', '.inputs-sha256')

function inputsHash() {
  const files = []
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`
      if (e.isDirectory()) walk(rel)
      else if (e.isFile()) files.push(rel)
    }
  }
  walk('src')
  walk('adapters')
  for (const f of fs.readdirSync(ROOT))
    if (/^(tsup\.config\.ts|package(-lock)?\.json|tsconfig.*\.json)$/.test(f)) files.push(f)
  files.sort()
  const h = createHash('sha256')
  for (const f of files)
    h.update(`${f}\0`)
      .update(fs.readFileSync(path.join(ROOT, f)))
      .update('\0')
  return h.digest('hex')
}

const hash = inputsHash()
const built = fs.existsSync(STAMP) ? fs.readFileSync(STAMP, 'utf8').trim() : ''
if (!process.argv.includes('--force') && built === hash) {
  process.stderr.write('[build] dist/ is up to date with src/ and adapters/ (skipped; --force builds anyway)\n')
  process.exit(0)
}
const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsup/dist/cli-default.js'), '--silent'], {
  cwd: ROOT,
  stdio: 'inherit',
})
if (r.status !== 0) process.exit(r.status ?? 1)
fs.writeFileSync(STAMP, `${hash}\n`)
