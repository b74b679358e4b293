// The smallest real producer: node examples/node-script/produce.mjs [host:port] [topic]
// (after `npm run build`; in your own project: npm install isokafka)
import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'

const [bootstrap = '127.0.0.1:9092', topic = 'events'] = process.argv.slice(2)
const producer = createProducer({ transport: tcp({ bootstrap }) })

const meta = await producer.send({
  topic,
  key: 'user-42',
  value: JSON.stringify({ clicked: 'buy' }),
  headers: { source: 'example' },
})
console.log(`written to ${meta.topic}-${meta.partition} at offset ${meta.offset}`)
await producer.close()
