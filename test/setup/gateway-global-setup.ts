/// <reference types="node" />
// Vitest globalSetup: an isokafka gateway (adapters/gateway) on an ephemeral 127.0.0.1 port, in front of the broker
// of the kafka global setup (which must come first: it sets process.env.KAFKA_BOOTSTRAP). Provides
//   inject('gatewayUrl')    http://127.0.0.1:PORT      (fetch transport: gateway, rest-v3, rest-v2 modes)
//   inject('gatewayWsUrl')  ws://127.0.0.1:PORT/v1/ws  (websocket transport)
//   inject('gatewayToken')  a token for the topics named with one of GATEWAY_TOPIC_PREFIXES (never `forbidden-*`)
// For browser projects it allows the origin(s) of Vitest's browser (Vite) server, so pages can reach it
// cross-origin. Browser tests create topics and read them back through the commands in `browserCommands` below
// (wired into vitest.browser.config.ts: `commands.createTopic`, `commands.readTopic`). Closed in teardown.
import type { BrowserCommand, TestProject } from 'vitest/node'
import { createGateway, createGatewayToken } from '../../adapters/gateway/index.js'
import { createTopic, readAllWithKcat } from '../helpers/kafka-tools.js'

declare module 'vitest' {
  export interface ProvidedContext {
    gatewayUrl: string
    gatewayWsUrl: string
    gatewayToken: string
  }
}

/** Topics the provided token may write: the test suites name their topics with one of these prefixes. */
export const GATEWAY_TOPIC_PREFIXES = ['ct-', 'browser-', 'big-']
const SECRET = `vitest-gateway-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`

function kafkaBootstrap(): string {
  const bootstrap = process.env.KAFKA_BOOTSTRAP
  if (!bootstrap)
    throw new Error('gateway-global-setup: KAFKA_BOOTSTRAP is not set (list test/setup/kafka-global-setup.ts first)')
  return bootstrap
}

/**
 * The origins a browser test page can have: Vitest's browser server. Read from the running server when it is up
 * already, else from the configured (or default, 63315) port and the next few (Vite moves on when a port is taken).
 */
function browserOrigins(project: TestProject): string[] {
  const browser = project.config.browser
  if (!browser?.enabled) return []
  const origins = new Set<string>()
  const add = (port: number) => {
    for (const host of ['localhost', '127.0.0.1', '[::1]']) origins.add(`http://${host}:${port}`)
  }
  const live = (
    project.browser as { vite?: { httpServer?: { address(): unknown } | null } } | undefined
  )?.vite?.httpServer?.address()
  if (live && typeof live === 'object' && 'port' in live) add((live as { port: number }).port)
  const configured = browser.api?.port ?? 63315
  for (let p = configured; p < configured + 10; p++) add(p)
  return [...origins]
}

interface Shared {
  ready: Promise<{ url: string; token: string; close(): Promise<void> }>
  users: number
}
/**
 * One gateway per Vitest process: in browser mode the setup runs for the root project and for the browser
 * instance, and both may provide to their tests. Kept on globalThis, as each may load this file separately.
 */
const SHARED_KEY = Symbol.for('isokafka.gateway-global-setup')
const registry = globalThis as unknown as { [SHARED_KEY]?: Shared }

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let shared = registry[SHARED_KEY]
  if (!shared) {
    // The gateway is shared by every project of this Vitest process, whichever sets it up first (a Node project's
    // setup may run before the browser one's): allow the origins of every browser project of the run.
    const all = (project as unknown as { vitest?: { projects?: TestProject[] } }).vitest?.projects ?? [project]
    const origins = [...new Set([project, ...all].flatMap(browserOrigins))]
    shared = registry[SHARED_KEY] = {
      users: 0,
      ready: (async () => {
        const bootstrap = kafkaBootstrap()
        const gateway = createGateway({ bootstrap, secret: SECRET, origins })
        const { url } = await gateway.listen(0, '127.0.0.1')
        const token = await createGatewayToken({
          secret: SECRET,
          topics: GATEWAY_TOPIC_PREFIXES.map((p) => `${p}*`),
          expiresInSec: 6 * 3600,
          subject: 'vitest',
        })
        process.stderr.write(
          `[gateway-global-setup] gateway at ${url} → Kafka ${bootstrap}${origins.length ? ` (browser origins: ${origins.slice(0, 3).join(', ')}, …)` : ''}\n`,
        )
        return { url, token, close: () => gateway.close({ timeoutMs: 5000 }) }
      })(),
    }
  }
  shared.users++
  const { url, token } = await shared.ready
  project.provide('gatewayUrl', url)
  project.provide('gatewayWsUrl', `${url.replace(/^http/, 'ws')}/v1/ws`)
  project.provide('gatewayToken', token)
  const mine = shared
  return async () => {
    if (--mine.users > 0) return
    if (registry[SHARED_KEY] === mine) delete registry[SHARED_KEY]
    await (await mine.ready).close()
  }
}

/** A record read back by kcat, bytes as hex strings (what a browser command can return). */
export interface HexReadRecord {
  partition: number
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: Array<[string, string | null]>
}

const toHex = (b: Uint8Array | null) =>
  b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

/**
 * Browser commands (they run in the Vitest process, next to kcat and the broker):
 * - `createTopic(name, partitions)`: Kafka's TopicCommand, waits for leaders.
 * - `readTopic(name, expectedCount, timeoutMs?)`: the whole topic read back with kcat, byte-exact, as hex,
 *   sorted by partition then offset (re-reads until `expectedCount` records are there or the timeout passed).
 */
export const browserCommands: Record<string, BrowserCommand<any[]>> = {
  async createTopic(_ctx, name: string, partitions: number) {
    if (!GATEWAY_TOPIC_PREFIXES.some((p) => name.startsWith(p)))
      throw new Error(`createTopic: ${name} is not covered by the gateway token (${GATEWAY_TOPIC_PREFIXES.join(', ')})`)
    await createTopic(kafkaBootstrap(), name, partitions)
    return null
  },
  async readTopic(_ctx, name: string, expectedCount: number, timeoutMs = 60_000): Promise<HexReadRecord[]> {
    const read = await readAllWithKcat(kafkaBootstrap(), name, expectedCount, timeoutMs)
    return read.map((r) => ({
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      key: toHex(r.key),
      value: toHex(r.value),
      headers: r.headers.map(([k, v]) => [k, toHex(v)] as [string, string | null]),
    }))
  },
}

declare module 'vitest/browser' {
  interface BrowserCommands {
    createTopic: (name: string, partitions: number) => Promise<null>
    readTopic: (name: string, expectedCount: number, timeoutMs?: number) => Promise<HexReadRecord[]>
  }
}
