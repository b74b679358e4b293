// When fetchTransport sends with `keepalive: true` (adapters/fetch): always or never by the `keepalive` option, and for
// 'auto' (the default) while the page is hidden (document.visibilityState) or being left (flushOnPageHide's pagehide).
// A fake fetch answers every metadata request; the tests read the `keepalive` of the request it got. (The gateway
// suite checks the same against a real gateway, with the 64 KiB budget.)
import { afterEach, describe, expect, it } from 'vitest'
import { fetchTransport, flushOnPageHide, type FetchTransportOptions } from '../../adapters/fetch/index.js'
import { createFrameDecoder, encodeFrame } from '../../adapters/gateway-wire/index.js'

const decoder = createFrameDecoder(1 << 20)
const g = globalThis as { document?: unknown }

/** The `keepalive` of the one request a metadata() call makes. */
async function keepaliveOf(keepalive: FetchTransportOptions['keepalive']): Promise<boolean> {
  let seen: boolean | undefined
  const fetch = (async (_url: string, init: RequestInit) => {
    seen = init.keepalive
    const req = decoder.decode(init.body as Uint8Array) as { id: number }
    const answer = encodeFrame({ t: 'metadata', id: req.id, topics: [{ topic: 't', partitions: 1, errorCode: 0 }] })
    return new Response(answer as BodyInit, { status: 200 })
  }) as typeof globalThis.fetch
  const transport = fetchTransport({ url: 'http://gw.test', fetch, keepalive })
  await transport.metadata(['t'])
  await transport.close()
  return seen!
}

/** An event target that remembers its listeners, to fire them. */
function target(extra: Record<string, unknown> = {}) {
  const listeners = new Map<string, (ev: unknown) => void>()
  return {
    ...extra,
    addEventListener: (type: string, fn: (ev: unknown) => void) => listeners.set(type, fn),
    removeEventListener: (type: string) => listeners.delete(type),
    fire: (type: string) => listeners.get(type)?.({}),
  }
}

afterEach(() => {
  delete g.document
})

describe('fetchTransport keepalive', () => {
  it('true: always; false: never, even while the page is hidden', async () => {
    expect(await keepaliveOf(true)).toBe(true)
    g.document = { visibilityState: 'hidden' }
    expect(await keepaliveOf(false)).toBe(false)
    expect(await keepaliveOf(true)).toBe(true)
  })

  it("'auto' (and the default): only while the document is hidden", async () => {
    expect(await keepaliveOf(undefined)).toBe(false)
    expect(await keepaliveOf('auto')).toBe(false)
    g.document = { visibilityState: 'visible' }
    expect(await keepaliveOf('auto')).toBe(false)
    g.document = { visibilityState: 'hidden' }
    expect(await keepaliveOf('auto')).toBe(true)
    expect(await keepaliveOf(undefined)).toBe(true)
  })

  it("'auto': between a pagehide and the next pageshow, whatever the document says; false stays false", async () => {
    const win = target()
    const doc = target({ visibilityState: 'visible' })
    const stop = flushOnPageHide({ flush: async () => {} }, { window: win, document: doc })
    try {
      win.fire('pagehide')
      expect(await keepaliveOf('auto')).toBe(true)
      expect(await keepaliveOf(false)).toBe(false)
      win.fire('pageshow')
      expect(await keepaliveOf('auto')).toBe(false)
    } finally {
      stop()
    }
  })
})
