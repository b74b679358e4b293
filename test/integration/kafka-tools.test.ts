/// <reference types="node" />
// Self-test of the integration-test tooling: topic creation through scripts/kafka.mjs and the byte-exact kcat reader.
// Records are written with `kcat -P` (independent of isokafka) and must come back byte for byte.

import { spawnSync } from 'node:child_process'
import { describe, expect, inject, it } from 'vitest'
import { createTopic, deleteTopic, parseKcatJson, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools'

const bootstrap: string = inject('kafkaBootstrap') ?? process.env.KAFKA_BOOTSTRAP ?? ''
if (!bootstrap) {
  throw new Error(
    "no Kafka bootstrap: add test/setup/kafka-global-setup.ts to this project's globalSetup or set KAFKA_BOOTSTRAP",
  )
}
const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)
const bytes = (s: string) => new TextEncoder().encode(s)

function kcatProduce(topic: string, args: string[], input: Uint8Array): void {
  const r = spawnSync('kcat', ['-P', '-b', bootstrap, '-t', topic, '-D', 'REC_END', '-K', 'KEY_END', ...args], {
    input,
  })
  if (r.status !== 0) throw new Error(`kcat -P failed: ${r.stderr?.toString()}`)
}

describe('kafka test tools', () => {
  it('parses kcat -J output at the byte level', () => {
    const line = Buffer.concat([
      Buffer.from(
        '{"topic":"t","partition":2,"offset":7,"tstype":"create","ts":1,"broker":1,"headers":["a","x\\"=,y","n",null],"key":"\\u0000\\n',
      ),
      Buffer.from([0xff, 0xfe, 0x80]),
      Buffer.from('","payload":null}\n'),
    ])
    const [r] = parseKcatJson(line)
    expect(r).toEqual({
      topic: 't',
      partition: 2,
      offset: 7,
      timestamp: 1,
      key: Uint8Array.from([0, 10, 0xff, 0xfe, 0x80]),
      value: null,
      headers: [
        ['a', bytes('x"=,y')],
        ['n', null],
      ],
    })
  })

  it('creates a topic and reads kcat-produced records back byte-exact', async () => {
    const topic = uniqueTopic('tools-selftest')
    await createTopic(bootstrap, topic, 6)
    const enc = (parts: (Uint8Array | string)[]) =>
      Buffer.concat(parts.map((p) => (typeof p === 'string' ? bytes(p) : p)))
    kcatProduce(
      topic,
      ['-p', '0', '-H', 'h1=v1', '-H', 'e=', '-H', 'n', '-H', 'sp ace=a b=c,d'],
      enc(['k1KEY_ENDv1REC_END', 'KEY_ENDemptykeyREC_END', 'nokeyREC_END', allBytes, 'KEY_END', allBytes, 'REC_END']),
    )
    kcatProduce(topic, ['-p', '5', '-Z'], enc(['k4KEY_ENDREC_END']))

    const records = await readAllWithKcat(bootstrap, topic, 5, 20_000)
    const hdrs: Array<[string, Uint8Array | null]> = [
      ['h1', bytes('v1')],
      ['e', new Uint8Array()],
      ['n', null],
      ['sp ace', bytes('a b=c,d')],
    ]
    expect(
      records.map(({ partition, offset, key, value, headers }) => ({ partition, offset, key, value, headers })),
    ).toEqual([
      { partition: 0, offset: 0, key: bytes('k1'), value: bytes('v1'), headers: hdrs },
      { partition: 0, offset: 1, key: new Uint8Array(), value: bytes('emptykey'), headers: hdrs },
      { partition: 0, offset: 2, key: null, value: bytes('nokey'), headers: hdrs },
      { partition: 0, offset: 3, key: allBytes, value: allBytes, headers: hdrs },
      { partition: 5, offset: 0, key: bytes('k4'), value: null, headers: [] },
    ])
    expect(records.every((r) => r.topic === topic && r.timestamp > 0)).toBe(true)

    await deleteTopic(bootstrap, topic)
  }, 60_000)

  it('returns what is there when fewer records than expected arrive', async () => {
    const topic = uniqueTopic('tools-empty')
    await createTopic(bootstrap, topic, 2)
    const t0 = Date.now()
    expect(await readAllWithKcat(bootstrap, topic, 1, 1_500)).toEqual([])
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400)
    await deleteTopic(bootstrap, topic)
  }, 30_000)
})
