import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'
const c = JSON.parse(process.argv[2])
const p = createProducer({ transport: tcp({ bootstrap: c.bootstrap }), acks: 'all', enableIdempotence: true, lingerMs: 5, batchSize: 16384, bufferMemory: 32 << 20 })
await p.partitionsFor(c.topic)
const value = new Uint8Array(100).fill(97)
const N = c.records
let acked = 0, done
const all = new Promise((r) => (done = r))
const cb = (err) => { if (err) throw err; if (++acked === N) done() }
const cpu0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < N; i++) if (!p.produce({ topic: c.topic, value }, cb)) await p.ready()
await all
const s = (performance.now() - t0) / 1000
const u = process.cpuUsage(cpu0)
console.log(JSON.stringify({ recordsPerSec: N / s, phaseCpuSeconds: (u.user + u.system) / 1e6 }))
await p.close()
