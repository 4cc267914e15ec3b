/* eslint-disable no-console -- a benchmark reports to its terminal */
// `BENCH_ONLY=startup pnpm bench`: how long the production server takes from spawn to its start
// line, and its memory, for the compiled bundle (`pnpm start`) against the same sources under tsx,
// started in turns so that a noisy machine weighs on each alike.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { TEST_REDIS_URL, testKeyPrefix } from '@signup/api/testing/test-infra'
import { COMPILED_SERVER, WEB_DIR } from '@signup/api/testing/test-server'

const TURNS = Number(process.env.BENCH_STARTUP_TURNS ?? 5)

interface Variant {
  label: string
  dir: string
  args: string[]
}

interface Measured {
  startMs: number
  /** VmRSS once the start line is out, and after the page and a captcha were served once. */
  rssAtStartMiB: number
  rssServedMiB: number
}

const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024

function variants(): Variant[] {
  const list: Variant[] = [
    {
      label: 'compiled (pnpm start)',
      dir: WEB_DIR,
      args: [...COMPILED_SERVER.nodeArgs, COMPILED_SERVER.entry],
    },
    // What NODE_OPTIONS=--enable-source-maps (TypeScript names in stack traces) costs.
    {
      label: 'compiled, --enable-source-maps',
      dir: WEB_DIR,
      args: ['--enable-source-maps', COMPILED_SERVER.entry],
    },
    { label: 'tsx server/main.ts', dir: WEB_DIR, args: ['--import', 'tsx', 'server/main.ts'] },
  ]
  // Another checkout's apps/web, started as its own pnpm start did before the bundle: the "before".
  const baseline = process.env.BENCH_STARTUP_BASELINE
  if (baseline) {
    list.push({
      label: `tsx in ${path.basename(path.resolve(baseline, '../..'))}`,
      dir: path.resolve(baseline),
      args: ['--import', 'tsx', 'server/main.ts'],
    })
  }
  return list
}

async function startOnce(variant: Variant, databaseUrl: string): Promise<Measured> {
  const started = performance.now()
  const child = spawn(process.execPath, variant.args, {
    cwd: variant.dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      NEXT_TELEMETRY_DISABLED: '1',
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: testKeyPrefix('bench-startup'),
      SMS_PROVIDER: 'console',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const match = /listening on http:\/\/localhost:(\d+)/.exec(output)
      if (match?.[1]) resolve(Number(match[1]))
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) =>
      reject(new Error(`${variant.label} exited with ${code}:\n${output}`)),
    )
  })
  const startMs = performance.now() - started
  const pid = child.pid ?? 0
  const rssAtStartMiB = rssMiB(pid)
  const url = `http://127.0.0.1:${port}`
  await (await fetch(`${url}/`)).text()
  await (await fetch(`${url}/passport/image_code?imageCodeId=bench-startup-1`)).arrayBuffer()
  const rssServedMiB = rssMiB(pid)
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
  return { startMs, rssAtStartMiB, rssServedMiB }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

export async function runStartup(databaseUrl: string): Promise<void> {
  const list = variants()
  const results = new Map<string, Measured[]>(list.map((variant) => [variant.label, []]))
  // One start of each, untimed, so the first turn does not pay for cold file caches alone.
  for (const variant of list) await startOnce(variant, databaseUrl)
  for (let turn = 0; turn < TURNS; turn++) {
    for (const variant of list)
      results.get(variant.label)?.push(await startOnce(variant, databaseUrl))
  }
  const first = results.get(list[0]?.label ?? '') ?? []
  console.log(
    `start-up, ${TURNS} turns (median; each start is spawn to start line, production env)`,
  )
  for (const variant of list) {
    const runs = results.get(variant.label) ?? []
    const start = median(runs.map((run) => run.startMs))
    const rss = median(runs.map((run) => run.rssAtStartMiB))
    const served = median(runs.map((run) => run.rssServedMiB))
    const ratio = start / median(first.map((run) => run.startMs))
    console.log(
      `  ${variant.label.padEnd(30)} ${start.toFixed(0).padStart(5)} ms (${ratio.toFixed(2)}x)   ` +
        `RSS ${rss.toFixed(0)} MiB at start, ${served.toFixed(0)} MiB after a page and a captcha   ` +
        `[${runs.map((run) => run.startMs.toFixed(0)).join(', ')} ms]`,
    )
  }
}
