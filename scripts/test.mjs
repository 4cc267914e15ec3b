// `pnpm test`: builds, runs every suite, and ends with one line `N passed, N failed` summed over
// all of them (vitest does not print that line itself).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const resultsDir = path.join(root, '.test-results')
rmSync(resultsDir, { recursive: true, force: true })
mkdirSync(resultsDir, { recursive: true })

function run(command, args, env = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
  })
  return result.status ?? 1
}

let passed = 0
let failed = 0

const buildStatus = run('pnpm', ['build'])
if (buildStatus !== 0) {
  console.error('build failed')
  failed += 1
}

const vitestJson = path.join(resultsDir, 'vitest.json')
const vitestStatus = run('pnpm', [
  'exec',
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${vitestJson}`,
])
if (existsSync(vitestJson)) {
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'))
  passed += report.numPassedTests
  failed += report.numFailedTests
  // A suite that failed to load has no failed test but must not pass silently.
  if (vitestStatus !== 0 && report.numFailedTests === 0) failed += 1
} else {
  failed += 1
}

// Browser tests: Playwright in Debian's Chromium against the production build.
const playwrightJson = path.join(resultsDir, 'playwright.json')
const playwrightStatus = run('pnpm', ['--filter', '@signup/web', 'exec', 'playwright', 'test'])
if (existsSync(playwrightJson)) {
  const { stats } = JSON.parse(readFileSync(playwrightJson, 'utf8'))
  passed += stats.expected + stats.flaky
  failed += stats.unexpected
  if (playwrightStatus !== 0 && stats.unexpected === 0) failed += 1
} else {
  failed += 1
}

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
