/* eslint-disable no-console -- a benchmark reports to its terminal */
// BENCH_ONLY=ab BENCH_AB_BASE=<another checkout, built> pnpm bench: this checkout's send path
// against another build's, and both against the floor, in turns in one run. How decision record
// 021 measured each change "before and after in one sitting": the base is the commit before it.
// BENCH_AB_BASE_ENV='{"ACCESS_LOG":"0"}' starts the base with more variables, and
// BENCH_AB_BASE_NODE_ARGS='--single-threaded-gc' with more node flags: with BENCH_AB_BASE naming
// this checkout, that measures what a setting costs.
import path from 'node:path'
import { deleteKeysWithPrefix, TEST_REDIS_URL, testKeyPrefix } from '@signup/api/testing/test-infra'
import type { TestDatabase } from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'
import { floorSends, startFloorServer } from './floor.ts'
import { sharedProcesses } from './scale-out.ts'
import type { FloorServer } from './floor.ts'
import { freshSends, seedCaptchas, sendRunEnv } from './load.ts'
import { cpuParts, median, medianRatio, runInTurns } from './turns.ts'
import type { Contestant, TurnOptions } from './turns.ts'

export async function runAb(
  database: TestDatabase,
  options: TurnOptions & { pool: number },
): Promise<void> {
  const baseDir = process.env.BENCH_AB_BASE
  if (!baseDir) throw new Error('BENCH_ONLY=ab needs BENCH_AB_BASE: a built checkout to compare')
  const prefixes = {
    head: testKeyPrefix('bench-ab-head'),
    base: testKeyPrefix('bench-ab-base'),
    floor: testKeyPrefix('bench-ab-floor'),
  }
  const serverEnv = (prefix: string): Record<string, string> =>
    sendRunEnv(database.url, { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix })
  let head: RunningServer | undefined
  let base: RunningServer | undefined
  let floor: FloorServer | undefined
  // The test Redis and Postgres: with the load generator, the whole of what a send costs.
  const shared = await sharedProcesses(database.name)
  try {
    head = await startServer(serverEnv(prefixes.head), { keepOutput: false })
    const baseEnv = JSON.parse(process.env.BENCH_AB_BASE_ENV ?? '{}') as Record<string, string>
    base = await startServer(
      { ...serverEnv(prefixes.base), ...baseEnv },
      {
        keepOutput: false,
        webDir: path.resolve(baseDir, 'apps', 'web'),
        nodeArgs: process.env.BENCH_AB_BASE_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      },
    )
    floor = await startFloorServer({
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefixes.floor,
    })
    await seedCaptchas(prefixes.head, 'bench', options.pool, 1800)
    await seedCaptchas(prefixes.base, 'bench', options.pool, 1800)
    await seedCaptchas(prefixes.floor, 'bench', options.pool, 1800)
    const loads = {
      floor: floorSends(options.pool),
      head: freshSends('15', options.pool),
      base: freshSends('17', options.pool),
    }
    const alsoMeasured = shared.measured
    const contestants: Contestant[] = [
      {
        label: 'floor',
        url: floor.url,
        pids: [floor.process.pid ?? 0],
        alsoMeasured,
        requests: loads.floor,
      },
      {
        label: 'head',
        url: head.url,
        pids: [head.process.pid ?? 0],
        alsoMeasured,
        requests: loads.head,
      },
      {
        label: 'base',
        url: base.url,
        pids: [base.process.pid ?? 0],
        alsoMeasured,
        requests: loads.base,
      },
    ]
    console.log(
      `A/B: this checkout (head) against ${baseDir} (base` +
        (process.env.BENCH_AB_BASE_ENV ? ` with ${process.env.BENCH_AB_BASE_ENV}` : '') +
        (process.env.BENCH_AB_BASE_NODE_ARGS
          ? ` with ${process.env.BENCH_AB_BASE_NODE_ARGS}`
          : '') +
        `) and the floor; ` +
        `${options.connections} connections, ${options.turns} turns of ${options.seconds} s`,
    )
    const figures = await runInTurns(contestants, options)
    for (const label of ['floor', 'base', 'head']) {
      const entry = figures.get(label)
      if (!entry) continue
      console.log(
        `${label.padEnd(6)} ${median(entry.rps).toFixed(0).padStart(6)} sends/s   ` +
          `p99 ${median(entry.p99)} ms   CPU µs/send: ${cpuParts(entry)}   ` +
          `${medianRatio(figures, label, 'floor').toFixed(3)}x the floor   ` +
          `non-2xx ${entry.non2xx.reduce((a, b) => a + b, 0)}   ` +
          `[${entry.rps.map((rps) => rps.toFixed(0)).join(', ')}]`,
      )
    }
    console.log(
      `head/base ${medianRatio(figures, 'head', 'base').toFixed(3)}x sends/s, ` +
        `${medianRatio(figures, 'head', 'base', 'cpuUs').toFixed(3)}x server CPU per send`,
    )
    const reused = Object.entries(loads).filter(([, load]) => load.taken() > options.pool)
    if (reused.length > 0) {
      // A spent captcha is answered NODATA at once: those figures would not be sends.
      console.log(
        `NOT VALID: ${reused.map(([label]) => label).join(', ')} reused spent captchas ` +
          `(pool ${options.pool}; raise BENCH_CAPTCHAS)`,
      )
    }
  } finally {
    await Promise.all([head?.stop(), base?.stop(), floor?.stop()])
    await shared.close()
    for (const prefix of Object.values(prefixes)) await deleteKeysWithPrefix(prefix)
  }
}
