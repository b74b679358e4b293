// A socket transport's bootstrap list is checked when the transport is created, not at the first send.
import { describe, expect, it } from 'vitest'
import { parseBootstrap, parseHostPort } from '../../src/client/cluster.js'
import { tcp } from '../../adapters/node-tcp/index.js'

describe('bootstrap addresses', () => {
  it('takes a comma-separated string or a list, trimmed, empty entries dropped', () => {
    expect(parseBootstrap(' a:1, b:2 ,', 'x')).toEqual(['a:1', 'b:2'])
    expect(parseBootstrap(['[::1]:9092', ' 127.0.0.1:9093 '], 'x')).toEqual(['[::1]:9092', '127.0.0.1:9093'])
    expect(parseHostPort('[::1]:9092')).toEqual(['::1', 9092])
    expect(tcp({ bootstrap: 'h1:9092,h2:9093' }).bootstrap).toEqual(['h1:9092', 'h2:9093'])
  })

  it.each([[''], [[]], ['localhost'], ['h:0'], ['h:65536'], ['h:port'], [['ok:1', 'bad']]])('refuses %j with INVALID_CONFIG', (bootstrap) => {
    expect(() => tcp({ bootstrap: bootstrap as string | string[] })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', retriable: false }))
  })
})
