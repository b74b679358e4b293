// A Kafka-protocol sink for the client-bound benchmark scenario: one TCP listener that answers ApiVersions,
// Metadata, InitProducerId and Produce at once, stores nothing, and acknowledges every batch with increasing offsets.
// Any topic a client asks about exists with --partitions partitions, all led by this one "broker" (node 1).
// It is built from isokafka's own wire codec (src/protocol/codec.ts Reader/Writer, framing.ts FrameDecoder) and
// bundled by bench/lib/tools.mjs with esbuild into ~/.cache/isokafka/bench/sink.mjs; it only imports from src/.
//
// It advertises the non-flexible versions both KafkaJS and isokafka speak (ApiVersions 0–3, Metadata 1–8,
// InitProducerId 0–1, Produce 3–8), so requests and responses stay small and cheap to handle here: the time goes to
// the client. Usage: node sink.mjs [--port 0] [--partitions 6]. Prints `SINK_PORT=<port>`; on SIGUSR2 it prints
// one JSON line {"records":{topic:count},"requests":n}; SIGTERM stops it.
import net from 'node:net'
import { Reader, Writer } from '../../src/protocol/codec.js'
import { FrameDecoder } from '../../src/protocol/framing.js'
import { ApiKey } from '../../src/protocol/api.js'

const args = process.argv.slice(2)
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const PARTITIONS = arg('partitions', 6)
const PORT = arg('port', 0)
const NODE_ID = 1

const SUPPORTED: Array<[number, number, number]> = [
  [ApiKey.Produce, 3, 8],
  [ApiKey.Metadata, 1, 8],
  [ApiKey.ApiVersions, 0, 3],
  [ApiKey.InitProducerId, 0, 1],
]
const UNSUPPORTED_VERSION = 35

const offsets = new Map<string, number[]>()
const recordsPerTopic = new Map<string, number>()
let requests = 0
let nextProducerId = 1000
let port = 0

function partitionOffsets(topic: string): number[] {
  let o = offsets.get(topic)
  if (!o) {
    o = new Array(PARTITIONS).fill(0)
    offsets.set(topic, o)
  }
  return o
}

/** Records in a RECORDS field: walk the RecordBatch v2 headers (recordCount at byte 57 of each batch). */
function countRecords(buf: Uint8Array, start: number, end: number): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let n = 0
  let p = start
  while (end - p >= 61) {
    const batchLength = view.getInt32(p + 8)
    n += view.getInt32(p + 57)
    p += 12 + batchLength
  }
  return n
}

function response(correlationId: number, body: (w: Writer) => void, sizeHint = 128): Uint8Array {
  const w = new Writer(sizeHint)
  w.int32(0)
  w.int32(correlationId) // response header v0: every version served here is non-flexible (ApiVersions: always v0)
  body(w)
  w.int32At(0, w.pos - 4)
  return w.finish()
}

function apiVersions(version: number, correlationId: number): Uint8Array {
  const flexible = version >= 3
  const v = version > 3 ? 0 : version // answer too-new versions in v0 layout with UNSUPPORTED_VERSION
  return response(correlationId, (w) => {
    w.int16(version > 3 ? UNSUPPORTED_VERSION : 0)
    w.array(SUPPORTED, flexible && v >= 3, (w, [key, min, max]) => {
      w.int16(key).int16(min).int16(max)
      if (flexible && v >= 3) w.emptyTags()
    })
    if (v >= 1) w.int32(0)
    if (flexible && v >= 3) w.emptyTags()
  })
}

function metadata(r: Reader, version: number, correlationId: number): Uint8Array {
  const n = r.int32()
  const topics: string[] = []
  for (let i = 0; i < n; i++) topics.push(r.string())
  if (n < 0) topics.push(...offsets.keys())
  return response(
    correlationId,
    (w) => {
      if (version >= 3) w.int32(0) // throttle
      w.array([0], false, (w) => {
        w.int32(NODE_ID).string('127.0.0.1').int32(port)
        w.nullableString(null) // rack
      })
      if (version >= 2) w.nullableString('isokafka-bench-sink')
      w.int32(NODE_ID) // controller
      w.array(topics, false, (w, name) => {
        partitionOffsets(name)
        w.int16(0).string(name).boolean(false)
        w.array(
          Array.from({ length: PARTITIONS }, (_, i) => i),
          false,
          (w, p) => {
            w.int16(0).int32(p).int32(NODE_ID)
            if (version >= 7) w.int32(0) // leader epoch
            w.int32(1).int32(NODE_ID) // replicas
            w.int32(1).int32(NODE_ID) // isr
            if (version >= 5) w.int32(0) // offline replicas
          },
        )
        if (version >= 8) w.int32(-2147483648) // topic authorized operations: not requested
      })
      if (version >= 8) w.int32(-2147483648) // cluster authorized operations
    },
    256,
  )
}

function initProducerId(correlationId: number): Uint8Array {
  const id = nextProducerId++
  return response(correlationId, (w) => {
    w.int32(0).int16(0).int64(id).int16(0)
  })
}

function produce(frame: Uint8Array, r: Reader, version: number, correlationId: number): Uint8Array | null {
  r.nullableString() // transactional id
  const acks = r.int16()
  r.int32() // timeout
  const topicCount = r.int32()
  const results: Array<[string, Array<[number, number]>]> = []
  for (let t = 0; t < topicCount; t++) {
    const topic = r.string()
    const o = partitionOffsets(topic)
    const partCount = r.int32()
    const parts: Array<[number, number]> = []
    let got = 0
    for (let i = 0; i < partCount; i++) {
      const partition = r.int32()
      const size = r.int32()
      const start = r.pos
      r.raw(Math.max(0, size))
      const count = size > 0 ? countRecords(frame, start, start + size) : 0
      const base = o[partition] ?? 0
      if (partition < o.length) o[partition] = base + count
      got += count
      parts.push([partition, base])
    }
    recordsPerTopic.set(topic, (recordsPerTopic.get(topic) ?? 0) + got)
    results.push([topic, parts])
  }
  if (acks === 0) return null
  return response(
    correlationId,
    (w) => {
      w.array(results, false, (w, [topic, parts]) => {
        w.string(topic)
        w.array(parts, false, (w, [partition, base]) => {
          w.int32(partition)
            .int16(partition < PARTITIONS ? 0 : 3)
            .int64(base)
            .int64(-1)
          if (version >= 5) w.int64(0)
          if (version >= 8) w.int32(0).nullableString(null)
        })
      })
      w.int32(0) // throttle
    },
    64 + results.length * 32,
  )
}

function handle(frame: Uint8Array): Uint8Array | null {
  const r = new Reader(frame)
  const apiKey = r.int16()
  const version = r.int16()
  const correlationId = r.int32()
  r.nullableString() // client id
  requests++
  switch (apiKey) {
    case ApiKey.ApiVersions:
      if (version >= 3) {
        r.skipTags() // request header v2
      }
      return apiVersions(version, correlationId)
    case ApiKey.Metadata:
      return metadata(r, version, correlationId)
    case ApiKey.InitProducerId:
      return initProducerId(correlationId)
    case ApiKey.Produce:
      return produce(frame, r, version, correlationId)
    default:
      throw new Error(`the sink does not serve api key ${apiKey}`)
  }
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  const decoder = new FrameDecoder()
  socket.on('data', (chunk: Buffer) => {
    try {
      const frames = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      if (frames.length > 1) socket.cork()
      for (const f of frames) {
        const out = handle(f)
        if (out) socket.write(out)
      }
      if (frames.length > 1) socket.uncork()
    } catch (err) {
      process.stderr.write(`[sink] ${(err as Error).message}\n`)
      socket.destroy()
    }
  })
  socket.on('error', () => {})
})
server.listen(PORT, '127.0.0.1', () => {
  port = (server.address() as net.AddressInfo).port
  process.stdout.write(`SINK_PORT=${port}\n`)
})
process.on('SIGUSR2', () => {
  process.stdout.write(JSON.stringify({ records: Object.fromEntries(recordsPerTopic), requests }) + '\n')
})
process.on('SIGTERM', () => {
  server.close()
  process.exit(0)
})
