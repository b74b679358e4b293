#!/usr/bin/env node
// Other JavaScript runtimes for isokafka's runtime tests, installed on demand from the npm registry into a cache
// outside the repository (never dependencies of the package). No npm dependencies: only node: builtins and `npm`.
//
//   node scripts/runtimes.mjs install [node22|bun|deno|all]   install (cached) and print NAME VERSION BIN per line
//   node scripts/runtimes.mjs which [node22|bun|deno|all]     print the cached binaries, install nothing (exit 1 if missing)
//   node scripts/runtimes.mjs list                            the known runtimes and their pinned versions
//   add --json for one JSON document on stdout
//
// Where: ${XDG_CACHE_HOME:-~/.cache}/isokafka/runtimes/<name>-<version>/ (a plain `npm install --prefix` tree plus
// installed.json). An install goes into a temporary folder that is renamed into place once its binary answered
// `--version`, so concurrent installs (a test and a CLI) never see half a tree.
//
// Binaries:
//   node22  `node-<platform>-<arch>` (the official Node build in an npm package): node_modules/<pkg>/bin/node
//   bun     `bun`: its postinstall moves the binary from the optional @oven/bun-<platform>-<arch> package into
//           node_modules/bun/bin/bun.exe (before that, bun.exe is a 450-byte placeholder)
//   deno    `deno`: its postinstall hard-links the binary from the optional @deno/<target> package to
//           node_modules/deno/deno (before that, bin.cjs would spawn it through a Node wrapper)
// npm 11 warns that these postinstall scripts are "not yet covered by allowScripts"; npm versions or settings that
// skip them (ignore-scripts) leave the binary in the platform package, where it is used directly. Only when neither
// place has a working binary is the package's postinstall run explicitly.
//
// Environment: ISOKAFKA_NODE22_VERSION, ISOKAFKA_BUN_VERSION, ISOKAFKA_DENO_VERSION override the pinned versions;
// NPM (npm binary, default `npm`).

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const NPM = process.env.NPM || 'npm'
const say = (msg) => process.stderr.write(`[runtimes] ${msg}\n`)

/** Pinned versions (newest of each line on the npm registry when written). */
export const RUNTIME_VERSIONS = {
  node22: process.env.ISOKAFKA_NODE22_VERSION || '22.23.3',
  bun: process.env.ISOKAFKA_BUN_VERSION || '1.4.5',
  deno: process.env.ISOKAFKA_DENO_VERSION || '2.9.6',
}
export const RUNTIME_NAMES = Object.keys(RUNTIME_VERSIONS)

export function runtimesRoot() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(base, 'isokafka', 'runtimes')
}

function hasAvx2() {
  try {
    return /\bavx2\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'))
  } catch {
    return true // not Linux: bun's own package choice applies
  }
}

function isMusl() {
  if (process.platform !== 'linux') return false
  const report = process.report?.getReport?.()
  return !report?.header?.glibcVersionRuntime
}

/**
 * What to install for a runtime on this platform: npm packages, where the binary may be, and how to run the
 * postinstall explicitly when needed.
 */
export function runtimeSpec(name, version = RUNTIME_VERSIONS[name]) {
  const { platform, arch } = process
  if (!version) throw new Error(`unknown runtime ${JSON.stringify(name)} (known: ${RUNTIME_NAMES.join(', ')})`)
  const exe = platform === 'win32' ? '.exe' : ''
  if (name === 'node22') {
    const pkg = `node-${platform === 'win32' ? 'win' : platform}-${arch}`
    return {
      name,
      version,
      packages: [`${pkg}@${version}`],
      candidates: [platform === 'win32' ? `node_modules/${pkg}/bin/node.exe` : `node_modules/${pkg}/bin/node`],
      postinstall: null,
      versionPattern: /^v?(\d+\.\d+\.\d+)/,
    }
  }
  if (name === 'bun') {
    const os_ = platform === 'win32' ? 'windows' : platform
    const cpu = arch === 'arm64' ? 'aarch64' : arch
    const musl = isMusl() ? '-musl' : ''
    // bun's x64 builds need AVX2; the "-baseline" builds do not (bun's postinstall makes the same choice)
    const baseline = arch === 'x64' && !hasAvx2() ? '-baseline' : ''
    const platformPkg = `@oven/bun-${os_}-${cpu}${musl}${baseline}`
    return {
      name,
      version,
      packages: [`bun@${version}`, ...(baseline || musl ? [`${platformPkg}@${version}`] : [])],
      candidates: [`node_modules/${platformPkg}/bin/bun${exe}`, 'node_modules/bun/bin/bun.exe'],
      postinstall: { dir: 'node_modules/bun', args: ['install.js'] },
      versionPattern: /^(\d+\.\d+\.\d+)/,
    }
  }
  if (name === 'deno') {
    const target = platform === 'linux' ? `linux-${arch}-${isMusl() ? 'musl' : 'glibc'}` : `${platform}-${arch}`
    return {
      name,
      version,
      packages: [`deno@${version}`],
      candidates: [`node_modules/deno/deno${exe}`, `node_modules/@deno/${target}/deno${exe}`],
      postinstall: { dir: 'node_modules/deno', args: ['./install.cjs'] },
      versionPattern: /^deno (\d+\.\d+\.\d+)/,
    }
  }
  throw new Error(`unknown runtime ${JSON.stringify(name)} (known: ${RUNTIME_NAMES.join(', ')})`)
}

export function runtimeDir(name, version = RUNTIME_VERSIONS[name]) {
  return path.join(runtimesRoot(), `${name}-${version}`)
}

/** `bin --version` → "1.2.3", or null when it does not run. */
export function probeVersion(bin, pattern) {
  if (!fs.existsSync(bin)) return null
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] })
  if (r.error || r.status !== 0) return null
  const m = pattern.exec(r.stdout.trim())
  return m ? m[1] : null
}

function findBinary(dir, spec) {
  for (const rel of spec.candidates) {
    const bin = path.join(dir, rel)
    const version = probeVersion(bin, spec.versionPattern)
    if (version === spec.version) return bin
    if (version) say(`${bin} reports ${version}, expected ${spec.version}`)
  }
  return null
}

/**
 * The cached runtime, without installing anything: { name, version, bin, dir } or null.
 * @param {string} name node22 | bun | deno
 */
export function locateRuntime(name, opts = {}) {
  const spec = runtimeSpec(name, opts.version)
  const dir = runtimeDir(name, spec.version)
  let meta
  try {
    meta = JSON.parse(fs.readFileSync(path.join(dir, 'installed.json'), 'utf8'))
  } catch {
    return null
  }
  const bin = path.join(dir, meta.bin)
  if (meta.version !== spec.version || !fs.existsSync(bin)) return null
  if (opts.verify !== false && probeVersion(bin, spec.versionPattern) !== spec.version) return null
  return { name, version: spec.version, bin, dir, installed: false }
}

function npmInstall(prefix, packages) {
  const args = [
    'install',
    '--prefix',
    prefix,
    '--no-audit',
    '--no-fund',
    '--no-save',
    '--loglevel=error',
    '--ignore-scripts=false',
    ...packages,
  ]
  const r = spawnSync(NPM, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15 * 60_000,
    maxBuffer: 64 << 20,
    // npm must not pick up the repository's package.json through a calling `npm run`/`npx` (registry, proxy and
    // cache settings in npm_config_* are kept)
    cwd: prefix,
    env: Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^npm_(package|lifecycle)_|^npm_config_(local_prefix|prefix|global|ignore_scripts)$/i.test(k),
      ),
    ),
  })
  if (r.error) throw new Error(`cannot run ${NPM}: ${r.error.message}`)
  const out = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((l) => l.trim() && !/Unknown user config/.test(l))
    .join('\n')
  if (r.status !== 0)
    throw new Error(
      `${NPM} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${out.split('\n').slice(-40).join('\n')}`,
    )
  return out
}

/**
 * Make sure a runtime is installed in the cache; returns { name, version, bin, dir, installed, installMs }.
 * Throws with the reason (npm output, missing binary) when it cannot be installed.
 * @param {string} name node22 | bun | deno
 */
export function ensureRuntime(name, opts = {}) {
  const cached = locateRuntime(name, opts)
  if (cached) return cached
  const spec = runtimeSpec(name, opts.version)
  const dir = runtimeDir(name, spec.version)
  const tmp = `${dir}.tmp-${process.pid}-${Date.now().toString(36)}`
  const t0 = Date.now()
  fs.mkdirSync(tmp, { recursive: true })
  try {
    // a package.json of its own, so npm installs here and not into some package.json further up
    fs.writeFileSync(
      path.join(tmp, 'package.json'),
      JSON.stringify({ name: `isokafka-runtime-${name}`, private: true }, null, 2) + '\n',
    )
    say(`installing ${spec.packages.join(' ')} into ${dir} ...`)
    const npmOut = npmInstall(tmp, spec.packages)
    let bin = findBinary(tmp, spec)
    let ranPostinstall = false
    if (!bin && spec.postinstall) {
      // npm did not run the postinstall (ignore-scripts, or a future allowScripts default) and the binary is not in
      // the platform package either: run the package's own postinstall with this Node, then look again
      const cwd = path.join(tmp, spec.postinstall.dir)
      say(
        `no working ${name} binary after npm install; running its postinstall (node ${spec.postinstall.args.join(' ')}) in ${cwd}`,
      )
      const r = spawnSync(process.execPath, spec.postinstall.args, {
        cwd,
        encoding: 'utf8',
        timeout: 10 * 60_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      ranPostinstall = true
      if (r.status !== 0)
        say(`postinstall exited with ${r.status ?? r.signal}: ${`${r.stdout}${r.stderr}`.trim().slice(-2000)}`)
      bin = findBinary(tmp, spec)
    }
    if (!bin) {
      const looked = spec.candidates.map(
        (c) =>
          `  ${c}: ${fs.existsSync(path.join(tmp, c)) ? `${fs.statSync(path.join(tmp, c)).size} bytes, does not run or wrong version` : 'missing'}`,
      )
      throw new Error(
        `npm installed ${spec.packages.join(' ')} but no working ${name} ${spec.version} binary was found` +
          `${ranPostinstall ? ' (also after running its postinstall)' : ''}:\n${looked.join('\n')}` +
          `${npmOut ? `\nnpm said:\n${npmOut}` : ''}`,
      )
    }
    const rel = path.relative(tmp, bin)
    fs.writeFileSync(
      path.join(tmp, 'installed.json'),
      JSON.stringify(
        {
          name,
          version: spec.version,
          packages: spec.packages,
          bin: rel,
          ranPostinstall,
          installedAt: new Date().toISOString(),
        },
        null,
        2,
      ) + '\n',
    )
    // someone else may have renamed a complete install into place meanwhile: use theirs
    const other = locateRuntime(name, opts)
    if (other) return { ...other, installMs: Date.now() - t0 }
    try {
      fs.rmSync(dir, { recursive: true, force: true }) // a stale or broken earlier install
      fs.renameSync(tmp, dir)
    } catch (e) {
      const again = locateRuntime(name, opts)
      if (again) return { ...again, installMs: Date.now() - t0 }
      throw e
    }
    const installMs = Date.now() - t0
    say(`${name} ${spec.version}: ${path.join(dir, rel)} (${(installMs / 1000).toFixed(1)} s)`)
    return { name, version: spec.version, bin: path.join(dir, rel), dir, installed: true, installMs }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * argv to run an ES module script with a runtime: node/bun take the script path; Deno needs `run -A` (all
 * permissions: net for the broker, env, read) and nothing else (no --unstable-* flag for node:net).
 */
export function scriptCommand(name, bin, script, args = []) {
  if (name === 'deno') return [bin, ['run', '-A', '--no-prompt', script, ...args]]
  return [bin, [script, ...args]]
}

// ---------------------------------------------------------------------------------------------------------------
// CLI

function namesFrom(arg) {
  if (!arg || arg === 'all') return RUNTIME_NAMES
  if (!RUNTIME_NAMES.includes(arg))
    throw new Error(`unknown runtime ${JSON.stringify(arg)} (known: ${RUNTIME_NAMES.join(', ')}, all)`)
  return [arg]
}

async function main(argv) {
  const json = argv.includes('--json')
  const [cmd, arg] = argv.filter((a) => a !== '--json')
  const print = (rows) => {
    if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n')
    else for (const r of rows) process.stdout.write(`${r.name} ${r.version} ${r.bin ?? '(not installed)'}\n`)
  }
  if (cmd === 'install') {
    const rows = []
    let failed = false
    for (const name of namesFrom(arg)) {
      try {
        rows.push(ensureRuntime(name))
      } catch (e) {
        failed = true
        say(`${name}: ${e.message}`)
        rows.push({ name, version: RUNTIME_VERSIONS[name], bin: null, error: e.message })
      }
    }
    print(rows)
    return failed ? 1 : 0
  }
  if (cmd === 'which') {
    const rows = namesFrom(arg).map(
      (name) => locateRuntime(name) ?? { name, version: RUNTIME_VERSIONS[name], bin: null },
    )
    print(rows)
    return rows.every((r) => r.bin) ? 0 : 1
  }
  if (cmd === 'list') {
    print(
      RUNTIME_NAMES.map((name) => ({
        name,
        version: RUNTIME_VERSIONS[name],
        bin: locateRuntime(name, { verify: false })?.bin ?? null,
      })),
    )
    return 0
  }
  process.stderr.write(
    'usage: node scripts/runtimes.mjs install|which [node22|bun|deno|all] [--json] | list [--json]\n',
  )
  return 2
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`[runtimes] ${e.stack || e.message}\n`)
      process.exit(1)
    },
  )
}
