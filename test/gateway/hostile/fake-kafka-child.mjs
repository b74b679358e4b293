// A fake Kafka cluster (isokafka/testing's FakeCluster, served on 127.0.0.1 TCP ports by isokafka/testing/node's
// serveFakeCluster) in a process of its own, for test/gateway/hostile/kafka-faults.test.ts: Kafka that is slow, fails
// or is down, without a real broker and without sharing the test runner's event loop.
//
//   node fake-kafka-child.mjs '{"brokers":1,"topics":{"orders":3},"clusterId":"fake-gw"}'
//
//   ISOKAFKA_TESTING_DIR  directory holding the built testing.js and testing-node.js (default: the repo's dist/)
//
// Prints one JSON line {"event":"ready","bootstrap":"127.0.0.1:PORT[,...]","ports":{...}} on stdout, then takes one
// command per line on stdin and answers each with one JSON line {"ok":true|false, ...}:
//
//   delay-produce MS         every Produce response is held MS ms (0: no delay any more; requests already held finish)
//   fail-produce CODE        every Produce answers Kafka error CODE (0: stop failing)
//   stall-produce            Produce requests are never answered (the connection stops being read)
//   clear                    no faults
//   stop                     Kafka down: listeners closed, every connection reset (the data stays)
//   start                    Kafka back on the same ports
//   create-topic NAME N      a topic with N partitions
//   count TOPIC              {"count": records in the topic}
//   values TOPIC             {"values": [each record's value as UTF-8 (at most 200 chars)], "count"}
//   stats                    {"produceRequests", "connections", "up"}
//   exit                     stop and exit 0
//
// Bounded: the cluster's request log is trimmed every second; the process exits when stdin closes (the parent died).
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import path from 'node:path'

const dir = process.env.ISOKAFKA_TESTING_DIR || fileURLToPath(new URL('../../../dist/', import.meta.url))
const { FakeCluster, ApiKey } = await import(pathToFileURL(path.join(dir, 'testing.js')).href)
const { serveFakeCluster } = await import(pathToFileURL(path.join(dir, 'testing-node.js')).href)

const config = JSON.parse(process.argv[2] || '{}')
const cluster = new FakeCluster({
  brokers: config.brokers ?? 1,
  topics: config.topics ?? {},
  clusterId: config.clusterId ?? 'fake-gateway-cluster',
})

let server = await serveFakeCluster(cluster, { host: '127.0.0.1' })
const ports = Object.fromEntries(server.ports)
let up = true
let produceRequests = 0

// the request log grows with every request: keep it short (counting Produce requests on the way)
const trim = setInterval(() => {
  for (const r of cluster.requests) if (r.apiKey === ApiKey.Produce) produceRequests++
  cluster.requests.length = 0
}, 1000)

function removeFaults(kind) {
  for (const f of [...cluster.faults.pending])
    if (f.apiKey === ApiKey.Produce && (kind === undefined || f.action.kind === kind)) cluster.faults.remove(f)
}

const utf8 = new TextDecoder()

async function handle(line) {
  const [cmd, ...args] = line.trim().split(/\s+/)
  switch (cmd) {
    case 'delay-produce': {
      const ms = Number(args[0])
      removeFaults('delay')
      if (ms > 0) cluster.delayNext(ApiKey.Produce, ms, { count: Infinity })
      return { delayMs: ms }
    }
    case 'fail-produce': {
      const code = Number(args[0])
      removeFaults('error')
      if (code) cluster.failNext(ApiKey.Produce, code, { count: Infinity })
      return { errorCode: code }
    }
    case 'stall-produce':
      removeFaults('no-response')
      cluster.stallNext(ApiKey.Produce, { count: Infinity })
      return {}
    case 'clear':
      cluster.clearFaults()
      return {}
    case 'stop':
      if (up) {
        up = false
        await server.close()
        cluster.closeConnections()
      }
      return { up }
    case 'start':
      if (!up) {
        server = await serveFakeCluster(cluster, { host: '127.0.0.1', ports })
        up = true
      }
      return { up, bootstrap: server.bootstrap.join(',') }
    case 'create-topic':
      cluster.createTopic(args[0], { partitions: Number(args[1] ?? 1) })
      return {}
    case 'count':
      return { count: cluster.topic(args[0]) ? cluster.records(args[0]).length : -1 }
    case 'values': {
      const recs = cluster.topic(args[0]) ? cluster.records(args[0]) : []
      return { count: recs.length, values: recs.map((r) => (r.value ? utf8.decode(r.value).slice(0, 200) : null)) }
    }
    case 'stats': {
      for (const r of cluster.requests) if (r.apiKey === ApiKey.Produce) produceRequests++
      cluster.requests.length = 0
      return { produceRequests, connections: cluster.connectionCount(), up }
    }
    case 'exit':
      await shutdown(0)
      return {}
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd)}`)
  }
}

async function shutdown(code) {
  clearInterval(trim)
  try {
    if (up) await server.close()
  } finally {
    process.exit(code)
  }
}

// commands run one at a time, in order
let chain = Promise.resolve()
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  if (!line.trim()) return
  chain = chain.then(async () => {
    let answer
    try {
      answer = { ok: true, ...(await handle(line)) }
    } catch (err) {
      answer = { ok: false, error: String(err?.message ?? err) }
    }
    process.stdout.write(JSON.stringify(answer) + '\n')
  })
})
rl.on('close', () => void shutdown(0))
process.on('SIGTERM', () => void shutdown(0))

process.stdout.write(JSON.stringify({ event: 'ready', bootstrap: server.bootstrap.join(','), ports }) + '\n')
