import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { build } from 'esbuild'

const root = path.resolve(import.meta.dirname, '../..')

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name)
    return statSync(p).isDirectory() ? files(p, ext) : ext.test(name) ? [p] : []
  })
}

/** Lines that use a Node-only API, ignoring comments. */
function nodeLeaks(source: string): string[] {
  return source
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, ''))
    .filter((line) =>
      /from\s+['"]node:|import\(\s*['"]node:|require\(|\bBuffer\b|\bprocess\.|\b__dirname\b|from\s+['"](fs|net|tls|crypto|stream|events|path)['"]/.test(
        line,
      ),
    )
}

describe('the core (src/) is runtime-free', () => {
  it('no file under src/ imports node:* or uses Buffer/process', () => {
    const leaks = files(path.join(root, 'src'), /\.ts$/).flatMap((f) =>
      nodeLeaks(readFileSync(f, 'utf8')).map((l) => `${path.relative(root, f)}: ${l.trim()}`),
    )
    expect(leaks).toEqual([])
  })

  it('the built core entry (dist/index.js and its chunks) has no node: import', () => {
    const entry = path.join(root, 'dist/index.js')
    expect(existsSync(entry), 'run `npm run build` first (npm test does)').toBe(true)
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const text = readFileSync(file, 'utf8')
      expect(nodeLeaks(text), file).toEqual([])
      for (const m of text.matchAll(/from\s+['"](\.\/[^'"]+)['"]/g)) visit(path.join(path.dirname(file), m[1]!))
    }
    visit(entry)
  })

  it('the core bundles for platform "neutral" with nothing external', async () => {
    const result = await build({
      entryPoints: [path.join(root, 'src/index.ts')],
      bundle: true,
      platform: 'neutral',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
    })
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path))
    expect(imports).toEqual([])
    expect(result.outputFiles[0]!.text).not.toMatch(/["']node:/)
  })
})
