/// <reference types="node" />
// What the CLI tests (cli.test.ts, service.test.ts) share: bin/isokafka.mjs in a temporary folder with the gateway
// bundled to its dist/gateway.js (as tsup builds it, so no `npm run build`), the runner's environment without its
// gateway/Kafka variables, a started `isokafka gateway` child, and the HTTP status a WebSocket upgrade gets.
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { build } from 'esbuild'
import WebSocket from 'ws'

const root = path.resolve(import.meta.dirname, '../..')

export interface BundledCli {
  dir: string
  /** The copy of bin/isokafka.mjs beside the bundled dist/gateway.js. */
  bin: string
  remove(): void
}

export async function bundleCli(prefix: string): Promise<BundledCli> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  mkdirSync(path.join(dir, 'bin'))
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'))
  const bin = path.join(dir, 'bin', 'isokafka.mjs')
  copyFileSync(path.join(root, 'bin', 'isokafka.mjs'), bin)
  await build({
    entryPoints: [path.join(root, 'adapters/gateway/index.ts')], // as tsup builds dist/gateway.js (it re-exports ./config.js)
    outfile: path.join(dir, 'dist', 'gateway.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['ws', '@msgpack/msgpack'],
    logLevel: 'silent',
  })
  return { dir, bin, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The runner's environment without its gateway/Kafka variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('ISOKAFKA_GATEWAY_') && !k.startsWith('KAFKA_')) env[k] = v
  return { ...env, ...extra }
}

export interface RunningCli {
  child: ChildProcess
  url: string
  wsUrl: string
  out(): string
  err(): string
  exited: Promise<number | null>
}

/**
 * Starts `isokafka gateway ARGS`; resolves once it prints its listening line, rejects if it exits or takes 20 s.
 * `onSpawn` sees the child at once (to kill it later even when it never started).
 */
export function startGatewayCli(
  bin: string,
  args: string[],
  env: Record<string, string> = {},
  onSpawn?: (child: ChildProcess) => void,
): Promise<RunningCli> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'gateway', ...args], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    onSpawn?.(child)
    let out = ''
    let err = ''
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/\S+) \(WebSocket (ws:\/\/\S+)\)/.exec(out)
      if (m) resolve({ child, url: m[1]!, wsUrl: m[2]!, out: () => out, err: () => err, exited })
    })
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    void exited.then((code) => reject(new Error(`the gateway exited with ${code}: ${err}`)))
    setTimeout(() => reject(new Error(`the gateway did not start: ${out} ${err}`)), 20_000)
  })
}

/** What a new WebSocket upgrade gets: the HTTP status of a refusal, 101 when it opened, or the socket error code. */
export function upgradeStatus(wsUrl: string, headers: Record<string, string> = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, ['isokafka.v1'], { headers })
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      res.resume()
      ws.terminate()
    })
    ws.on('open', () => {
      resolve(101)
      ws.terminate()
    })
    ws.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message))
  })
}
