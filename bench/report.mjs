#!/usr/bin/env node
// Regenerate the chart (next to the JSON) and, with --docs, docs/benchmarks.md from a saved results file:
//   node bench/report.mjs bench/results/<date>.json [--docs]
import fs from 'node:fs'
import path from 'node:path'
import { summarize, writeReport } from './lib/report.mjs'
import { REPO_DIR } from './lib/tools.mjs'

const file = process.argv[2]
if (!file) {
  process.stderr.write('usage: node bench/report.mjs RESULTS.json [--docs]\n')
  process.exit(2)
}
const jsonFile = path.resolve(file)
const results = JSON.parse(fs.readFileSync(jsonFile, 'utf8'))
results.summary = summarize(results)
fs.writeFileSync(jsonFile, JSON.stringify(results, null, 2) + '\n')
const docsFile = process.argv.includes('--docs') ? path.join(REPO_DIR, 'docs', 'benchmarks.md') : null
const { svgFile } = writeReport(results, { jsonFile, docsFile })
process.stderr.write(`chart: ${svgFile}${docsFile ? `\ndocs: ${docsFile}` : ''}\n`)
