// A tiny server for the web-app example: serves dist/ (run build.mjs first), runs an isokafka gateway next to it and
// mints short-lived gateway tokens for the page at GET /config.
//
//   node examples/web-app/build.mjs
//   KAFKA_BOOTSTRAP=127.0.0.1:9092 node examples/web-app/serve.mjs --port 8080 --topic clicks
//
// (in this repository after `npm run build`, so that `isokafka/gateway` resolves to dist/; in your own project after
// `npm install isokafka`). Options: --port (page server, default 8080; 0 = any free port), --gateway-port (default 0),
// --host (default 127.0.0.1), --bootstrap (default $KAFKA_BOOTSTRAP), --topic (default clicks). The token secret is
// $GATEWAY_SECRET, or a random one per start. Prints one line `web-app listening <page url> gateway <ws url>`.
import { randomBytes, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createGateway, createGatewayToken } from 'isokafka/gateway'

const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback
}
const host = opt('host', '127.0.0.1')
const port = Number(opt('port', '8080'))
const gatewayPort = Number(opt('gateway-port', '0'))
const bootstrap = opt('bootstrap', process.env.KAFKA_BOOTSTRAP)
const topic = opt('topic', 'clicks')
const secret = process.env.GATEWAY_SECRET ?? randomBytes(32).toString('base64url')
const TOKEN_SECONDS = 600
if (!bootstrap) {
  console.error('serve.mjs: no Kafka bootstrap (set KAFKA_BOOTSTRAP or pass --bootstrap host:port)')
  process.exit(2)
}

// WEB_APP_DIR: where dist/ is, when this file runs from somewhere else (the repository's test bundles it)
const root = process.env.WEB_APP_DIR ?? path.dirname(fileURLToPath(import.meta.url))
const dist = path.join(root, 'dist')
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
}

let gatewayWsUrl = ''
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  if (req.method === 'GET' && url.pathname === '/config') {
    // Your app decides who gets a token (its own session or login); this example gives one to every page load,
    // for the one topic, for 10 minutes. The subject is the browser's (a cookie), not the page load's: the gateway
    // deduplicates resent batches per subject, so the outbox's resends from a reloaded page or another tab must
    // come with the same one.
    const sid = /(?:^|;\s*)sid=([\w-]{8,64})/.exec(req.headers.cookie ?? '')?.[1] ?? randomUUID()
    const token = await createGatewayToken({
      secret,
      topics: [topic],
      expiresInSec: TOKEN_SECONDS,
      subject: `web-${sid}`,
    })
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'set-cookie': `sid=${sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000`,
    })
    res.end(JSON.stringify({ gatewayUrl: gatewayWsUrl, token, topic }))
    return
  }
  const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1)
  if (req.method !== 'GET' || !/^[\w.-]+$/.test(file) || !(path.extname(file) in types)) {
    res.writeHead(404).end()
    return
  }
  try {
    const body = await readFile(path.join(dist, file))
    res.writeHead(200, { 'content-type': types[path.extname(file)] }).end(body)
  } catch {
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end(file === 'index.html' ? 'dist/ is missing: run node examples/web-app/build.mjs' : 'not found')
  }
})
await new Promise((resolve) => server.listen(port, host, resolve))
const pagePort = server.address().port
const pageUrl = `http://${host}:${pagePort}`

// The gateway accepts WebSocket upgrades only from the page's origin (browsers send Origin; servers do not).
const origins = [pageUrl, `http://localhost:${pagePort}`]
const gateway = createGateway({ bootstrap, secret, origins, log: (line) => console.error(`[gateway] ${line}`) })
const listening = await gateway.listen(gatewayPort, host)
gatewayWsUrl = `${listening.url.replace(/^http/, 'ws')}/v1/ws`
console.log(`web-app listening ${pageUrl} gateway ${gatewayWsUrl} topic ${topic}`)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  server.close()
  await gateway.close({ timeoutMs: 5000 })
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
