// The gateway as a child process for the hostile-clients suite (test/gateway/hostile/*.test.ts): a crash, an
// event-loop stall or a memory blow-up shows in the parent instead of taking the test runner down with it.
//
//   ISOKAFKA_GATEWAY_MODULE   path of the module exporting createGateway (default: the repo's dist/gateway.js)
//   ISOKAFKA_GATEWAY_OPTIONS  GatewayOptions as JSON (bootstrap, secret, limits, ...)
//
// Prints `listening on http://127.0.0.1:PORT` on stdout; logs go to stderr as JSON lines; SIGTERM drains and exits 0.
// Nothing here catches errors: an exception thrown by the gateway ends the process with a non-zero code, as it
// would in production.
import { fileURLToPath, pathToFileURL } from 'node:url'

const modulePath =
  process.env.ISOKAFKA_GATEWAY_MODULE || fileURLToPath(new URL('../../../dist/gateway.js', import.meta.url))
const options = JSON.parse(process.env.ISOKAFKA_GATEWAY_OPTIONS || '{}')

const { createGateway } = await import(pathToFileURL(modulePath).href)
const gateway = createGateway({
  ...options,
  logger: (e) => process.stderr.write(JSON.stringify(e) + '\n'),
  log: (l) => process.stderr.write(l + '\n'),
})

let address
if (typeof gateway.listen === 'function') {
  address = await gateway.listen(0, '127.0.0.1')
} else {
  await new Promise((resolve, reject) => {
    gateway.server.once('error', reject)
    gateway.server.listen(0, '127.0.0.1', resolve)
  })
  address = gateway.server.address()
}
process.stdout.write(`listening on http://127.0.0.1:${address.port}\n`)

let stopping = false
process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  gateway.close({ timeoutMs: 5000 }).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`close failed: ${err?.stack ?? err}\n`)
      process.exit(1)
    },
  )
})
