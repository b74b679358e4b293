// Configuration is checked where it is given: a socket transport's bootstrap list when the transport is created (not at
// the first send), a gateway's token secrets when the gateway is created.
import { describe, expect, it } from 'vitest'
import { parseBootstrap, parseHostPort } from '../../src/client/cluster.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { createGateway } from '../../adapters/gateway/index.js'
import { createProducer, gzip } from '../../src/index.js'

describe('bootstrap addresses', () => {
  it('takes a comma-separated string or a list, trimmed, empty entries dropped', () => {
    expect(parseBootstrap(' a:1, b:2 ,', 'x')).toEqual(['a:1', 'b:2'])
    expect(parseBootstrap(['[::1]:9092', ' 127.0.0.1:9093 '], 'x')).toEqual(['[::1]:9092', '127.0.0.1:9093'])
    expect(parseHostPort('[::1]:9092')).toEqual(['::1', 9092])
    expect(tcp({ bootstrap: 'h1:9092,h2:9093' }).bootstrap).toEqual(['h1:9092', 'h2:9093'])
  })

  it.each([[''], [[]], ['localhost'], ['h:0'], ['h:65536'], ['h:port'], [['ok:1', 'bad']]])(
    'refuses %j with INVALID_CONFIG',
    (bootstrap) => {
      expect(() => tcp({ bootstrap: bootstrap as string | string[] })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG', retriable: false }),
      )
    },
  )
})

describe("a transport's own connect timeout", () => {
  it('is carried on the transport, for the core to pass to connect() and wait out (dead-timers.test.ts)', () => {
    expect(tcp({ bootstrap: 'h:1', connectTimeoutMs: 30_000 }).connectTimeoutMs).toBe(30_000)
    expect(tcp({ bootstrap: 'h:1' }).connectTimeoutMs).toBeUndefined() // the producer's connectTimeoutMs then
  })
})

describe('gateway token secrets', () => {
  it.each([['short'], [new Uint8Array(8)], [['a-long-enough-secret-0', 'short']]])(
    'refuses %j (under 16 characters or bytes) with INVALID_CONFIG',
    (secret) => {
      expect(() => createGateway({ bootstrap: '127.0.0.1:1', secret: secret as string })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }),
      )
    },
  )

  it('accepts 16 characters, or 16 bytes', async () => {
    await createGateway({ bootstrap: '127.0.0.1:1', secret: '0123456789abcdef' }).close({ timeoutMs: 100 })
    await createGateway({ bootstrap: '127.0.0.1:1', secret: new Uint8Array(16) }).close({ timeoutMs: 100 })
  })
})

describe('compression', () => {
  const transport = tcp({ bootstrap: '127.0.0.1:1' })
  it.each([['snapy'], ['lz4hc'], ['ZSTD'], ['GZIP'], [''], [null], [7], [{ name: 'x' }]])(
    'refuses %j with INVALID_CONFIG at createProducer()',
    (compression) => {
      expect(() => createProducer({ transport, compression: compression as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG', retriable: false }),
      )
    },
  )

  it("takes 'none', 'gzip', 'snappy', 'lz4', 'zstd' and a codec object", async () => {
    for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd', gzip, undefined] as const)
      await createProducer({ transport, compression }).close()
  })

  it.each([
    ['zstd', 1.5],
    ['zstd', 23],
    ['zstd', '3'],
    ['lz4', 9],
    ['gzip', 6],
    ['snappy', 1],
    [undefined, 3],
  ])('refuses compressionLevel %j/%j with INVALID_CONFIG', (compression, compressionLevel) => {
    expect(() =>
      createProducer({ transport, compression: compression as never, compressionLevel: compressionLevel as never }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
  })

  it('takes a zstd level from -131072 to 22', async () => {
    for (const compressionLevel of [1, 3, 22, -5])
      await createProducer({ transport, compression: 'zstd', compressionLevel }).close()
  })
})
