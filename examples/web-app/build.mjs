// Bundles the web app with esbuild: examples/web-app/dist/{index.html, main.js, main.js.map}.
//   node examples/web-app/build.mjs
// `isokafka` imports resolve like any package (node_modules); inside this repository esbuild follows the paths in
// tsconfig.json to the sources, so no `npm run build` is needed.
import { build } from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { readFileSync } from 'node:fs'

const here = path.dirname(fileURLToPath(import.meta.url))
const dist = path.join(here, 'dist')
await mkdir(dist, { recursive: true })
await build({
  entryPoints: [path.join(here, 'src/main.ts')],
  outfile: path.join(dist, 'main.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
})
await copyFile(path.join(here, 'index.html'), path.join(dist, 'index.html'))
const js = readFileSync(path.join(dist, 'main.js'))
console.log(
  `web-app: dist/main.js ${(js.length / 1024).toFixed(1)} KiB (${(gzipSync(js).length / 1024).toFixed(1)} KiB gzipped), dist/index.html`,
)
