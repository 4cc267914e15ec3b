/* eslint-disable no-console -- a benchmark reports to its terminal */
// BENCH_ONLY=ab BENCH_AB_BASE=<another checkout, built> pnpm bench: this checkout's send path
// against another build's, and both against the floor, in turns in one run. How decision record
// 021 measured each change "before and after in one sitting": the base is the commit before it.
// BENCH_AB_BASE_ENV='{"ACCESS_LOG":"0"}' starts the base with more variables, and
// BENCH_AB_BASE_NODE_ARGS='--single-threaded-gc' with more node flags: with BENCH_AB_BASE naming
// this checkout, that measures what a setting costs.
import path from 'node:path'
import pg from 'pg'
import {
  deleteKeysWithPrefix,
  TEST_POSTGRES_URL,
  TEST_REDIS_URL,
  testKeyPrefix,
} from '@signup/api/testing/test-infra'
import type { TestDatabase } from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'
import { floorSends, startFloorServer } from './floor.ts'
import { databaseBackends, localRedisPid, pidList } from './scale-out.ts'
import type { FloorServer } from './floor.ts'
import { freshSends, seedCaptchas, sendRunEnv } from './load.ts'
import { median, medianRatio, runInTurns, wholeCpuUs } from './turns.ts'
import type { Contestant, ProcessList, TurnOptions } from './turns.ts'

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
  // Lists the bench database's backends; on the `postgres` database, so not one of them.
  const postgres = new pg.Client({ connectionString: TEST_POSTGRES_URL })
  let postgresConnected = false
  try {
    await postgres.connect()
    postgresConnected = true
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
    // The test Redis's CPU per send: the limits' script runs there, on the same two cores.
    const redisPid = await localRedisPid()
    // And Postgres's: with the load generator, the whole of what a send costs these two cores.
    const alsoMeasured: Record<string, ProcessList> = {
      ...(redisPid === null ? {} : { redis: pidList(redisPid) }),
      postgres: databaseBackends(postgres, database.name),
    }
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
          `p99 ${median(entry.p99)} ms   server CPU ${median(entry.cpuUs).toFixed(0)} µs/send   ` +
          (entry.alsoCpuUs.redis
            ? `Redis CPU ${median(entry.alsoCpuUs.redis).toFixed(0)} µs/send   `
            : '') +
          `Postgres ${median(entry.alsoCpuUs.postgres ?? []).toFixed(0)} µs/send   ` +
          `load generator ${median(entry.loadGeneratorCpuUs).toFixed(0)} µs/send   ` +
          `all ${median(wholeCpuUs(entry)).toFixed(0)} µs/send   ` +
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
    if (postgresConnected) await postgres.end()
    for (const prefix of Object.values(prefixes)) await deleteKeysWithPrefix(prefix)
  }
}
