/* eslint-disable no-console -- a benchmark reports to its terminal */
// The scale-out run of `pnpm bench` (issue 15): POST /passport/sms_code with fresh mobiles through
// haproxy in front of 1, 2 and 3 production servers on a six-node Redis Cluster, in turns with one
// server straight on the single test Redis (what the main run measures) and one on the cluster
// without the balancer, so that the cluster's cost and the balancer's are each on record.
import os from 'node:os'
import { Redis } from 'ioredis'
import pg from 'pg'
import { sendLimitKeys } from '@signup/auth/send-limiter'
import { startLoadBalancer } from '@signup/api/testing/load-balancer'
import type { LoadBalancer } from '@signup/api/testing/load-balancer'
import {
  deleteKeysWithPrefix,
  TEST_POSTGRES_URL,
  TEST_REDIS_URL,
  testKeyPrefix,
} from '@signup/api/testing/test-infra'
import type { TestDatabase } from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'
import { startPgBouncer } from '@signup/db/testing/pgbouncer'
import type { RunningPgBouncer } from '@signup/db/testing/pgbouncer'
import { startRedisCluster } from '@signup/kv/testing/redis-cluster'
import type { RedisClusterUnderTest } from '@signup/kv/testing/redis-cluster'
import { countKeys, freshSends, seedCaptchas, sendRunEnv } from './load.ts'
import { median, medianRatio, runInTurns } from './turns.ts'
import type { Contestant, ProcessList, TurnFigures, TurnOptions } from './turns.ts'

/** BENCH_PGBOUNCER=1: the cluster's instances reach Postgres through PgBouncer (transaction mode). */
const PGBOUNCER = process.env.BENCH_PGBOUNCER === '1'
const INSTANCES = 3
const BASELINE = 'single Redis, no balancer'
const CLUSTER_DIRECT = 'cluster, no balancer'
const balanced = (count: number): string =>
  `cluster, haproxy, ${count} instance${count === 1 ? '' : 's'}`

/** The groups of processes whose CPU per send is reported beside the instances'. */
const HAPROXY = 'haproxy'
const HOT_MASTER = 'redis master of {global}'
const OTHER_MASTERS = 'other redis masters'
const REPLICAS = 'redis replicas'
const SHARED_REDIS = 'the test Redis (shared: an upper bound)'
const POSTGRES = 'postgres backends'
const PGBOUNCER_PROCESS = 'pgbouncer'

/** An instance as the main run starts one (WEB_CONCURRENCY=1, access log, metrics), on `redis`. */
function instanceEnv(databaseUrl: string, redis: Record<string, string>): Record<string, string> {
  return {
    ...sendRunEnv(databaseUrl, redis),
    // On every instance, the baseline's too, so that only the cluster and the balancer differ.
    TRUST_PROXY: '1',
    WEB_CONCURRENCY: '1',
  }
}

/**
 * The test Redis's process id when it runs on this machine (its CPU is then read from /proc, all
 * its clients' work included), else null.
 */
export async function localRedisPid(): Promise<number | null> {
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(TEST_REDIS_URL).hostname)) return null
  const redis = new Redis(TEST_REDIS_URL)
  try {
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? NaN) || null
  } finally {
    redis.disconnect()
  }
}

/**
 * A database's Postgres backends, listed through a client of their own on the `postgres` database
 * (so not one of them), which connects on first use; close() ends it.
 */
export function databaseBackends(databaseName: string): ProcessList & { close(): Promise<void> } {
  const postgres = new pg.Client({ connectionString: TEST_POSTGRES_URL })
  let connected: Promise<unknown> | undefined
  const list = async (): Promise<number[]> => {
    await (connected ??= postgres.connect())
    const { rows } = await postgres.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [databaseName],
    )
    return rows.map((row) => row.pid)
  }
  const close = async (): Promise<void> => {
    if (!connected) return
    await connected.catch(() => undefined)
    await postgres.end()
  }
  return Object.assign(list, { close })
}

/**
 * What a send costs the machine's cores besides the server and the load generator: the test
 * Redis's CPU (when it runs on this machine) and the database's Postgres backends'. close() ends
 * the backends' client.
 */
export async function sharedProcesses(
  databaseName: string,
): Promise<{ measured: Record<string, ProcessList>; close(): Promise<void> }> {
  const redisPid = await localRedisPid()
  const backends = databaseBackends(databaseName)
  return {
    measured: {
      ...(redisPid === null ? {} : { Redis: pidList(redisPid) }),
      Postgres: backends,
    },
    close: () => backends.close(),
  }
}

export const pidList =
  (pid: number): ProcessList =>
  () => [pid]

const loadAverage = (): string =>
  os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')

export async function runScaleOut(
  database: TestDatabase,
  options: TurnOptions & { pool: number },
): Promise<void> {
  const singlePrefix = testKeyPrefix('bench-scale-out')
  const clusterPrefix = testKeyPrefix('bench-scale-out')
  const servers: RunningServer[] = []
  const balancers: LoadBalancer[] = []
  let redisCluster: RedisClusterUnderTest | undefined
  let pgbouncer: RunningPgBouncer | undefined
  const backends = databaseBackends(database.name)
  const loadBefore = loadAverage()
  try {
    const cluster = await startRedisCluster()
    redisCluster = cluster
    // Twice the cores, the usual first size of a pool (README, PgBouncer).
    if (PGBOUNCER) pgbouncer = await startPgBouncer({ poolSize: 2 * os.cpus().length })
    const clusterDatabaseUrl = pgbouncer?.url(database.name) ?? database.url
    const started = await Promise.all([
      startServer(
        instanceEnv(database.url, { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: singlePrefix }),
        { keepOutput: false },
      ),
      ...Array.from({ length: INSTANCES }, () =>
        startServer(
          instanceEnv(clusterDatabaseUrl, {
            REDIS_CLUSTER_NODES: cluster.nodesEnv,
            REDIS_KEY_PREFIX: clusterPrefix,
          }),
          { keepOutput: false },
        ),
      ),
    ])
    servers.push(...started)
    const [single, ...instances] = started
    const [first] = instances
    if (!single || !first) throw new Error('the servers did not start')
    for (let count = 1; count <= INSTANCES; count++) {
      balancers.push(await startLoadBalancer(instances.slice(0, count).map((each) => each.url)))
    }
    // The cluster's four contestants draw on one pool: `pool` captchas each.
    const clusterPool = (INSTANCES + 1) * options.pool
    await seedCaptchas(singlePrefix, 'bench', options.pool, 900)
    await seedCaptchas(clusterPrefix, 'bench', clusterPool, 900, cluster.nodes)

    const nodes = await cluster.state()
    const masters = nodes.filter((node) => node.role === 'master').map((node) => node.port)
    // Every send counts on the global budget's key: its master takes a command of every send.
    const hotMaster = await cluster.masterOf(`${clusterPrefix}${sendLimitKeys.globalHour()}`)
    const pidsOf = (ports: number[]) => () => ports.map((port) => cluster.pidOf(port))
    const clusterMeasured = {
      [HOT_MASTER]: pidsOf([hotMaster]),
      [OTHER_MASTERS]: pidsOf(masters.filter((port) => port !== hotMaster)),
      [REPLICAS]: pidsOf(nodes.filter((node) => node.role === 'replica').map((node) => node.port)),
      [POSTGRES]: backends,
      ...(pgbouncer ? { [PGBOUNCER_PROCESS]: pidList(pgbouncer.pid) } : {}),
    }
    const sharedRedis = await localRedisPid()
    const singleSends = freshSends('15', options.pool)
    // One pool of captchas and one run of mobiles over every contestant on the cluster.
    const clusterSends = freshSends('13', clusterPool)
    const pidOf = (server: RunningServer): number => server.process.pid ?? 0
    const contestants: Contestant[] = [
      {
        label: BASELINE,
        url: single.url,
        pids: [pidOf(single)],
        // The test Redis is shared with other work: its CPU is not this run's alone.
        alsoMeasured: {
          ...(sharedRedis === null ? {} : { [SHARED_REDIS]: pidList(sharedRedis) }),
          [POSTGRES]: backends,
        },
        requests: singleSends,
      },
      {
        label: CLUSTER_DIRECT,
        url: first.url,
        pids: [pidOf(first)],
        alsoMeasured: clusterMeasured,
        requests: clusterSends,
      },
      ...balancers.map((balancer, i) => ({
        label: balanced(i + 1),
        url: balancer.url,
        pids: instances.slice(0, i + 1).map(pidOf),
        alsoMeasured: { [HAPROXY]: pidList(balancer.pid), ...clusterMeasured },
        requests: clusterSends,
      })),
    ]

    const postgresPath = pgbouncer
      ? `through PgBouncer (transaction mode, pool ${pgbouncer.poolSize}) for the cluster's instances`
      : 'direct (BENCH_PGBOUNCER=1: through PgBouncer for the cluster)'
    console.log(
      `scale-out: POST /passport/sms_code, a fresh mobile each, ${options.connections} ` +
        `connections, ${options.turns} turns of ${options.seconds} s in alternation after ` +
        `${options.warmupSeconds} s warm-up; each instance the production server, one process; ` +
        `the cluster: six redis-server (3 masters, 3 replicas); haproxy round-robin; Postgres ` +
        `${postgresPath}; all on this machine's ${os.cpus().length} cores; ` +
        `load average ${loadBefore} before`,
    )
    const figures = await runInTurns(contestants, options)
    const mastersAfter = (await cluster.state())
      .filter((node) => node.role === 'master' && !node.failed)
      .map((node) => node.port)
    const singleStored = await countKeys(singlePrefix, 'SMS_*')
    let clusterStored = 0
    for (const port of masters) {
      clusterStored += await countKeys(clusterPrefix, 'SMS_*', { host: '127.0.0.1', port })
    }

    report(figures, contestants)
    console.log(
      `codes stored: ${singleStored} of ${singleSends.taken()} sends on the single Redis, ` +
        `${clusterStored} of ${clusterSends.taken()} on the cluster (warm-up included); ` +
        `load average ${loadAverage()} after`,
    )
    if (singleSends.taken() > options.pool || clusterSends.taken() > clusterPool) {
      console.log(
        `note: sends reused spent captchas, answered NODATA (pools ${options.pool} and ` +
          `${clusterPool}; BENCH_CAPTCHAS)`,
      )
    }
    if (
      mastersAfter.length !== masters.length ||
      masters.some((port) => !mastersAfter.includes(port))
    ) {
      console.log('note: the cluster failed over during the run; these figures do not hold')
    }
  } finally {
    await Promise.all(balancers.map((balancer) => balancer.stop()))
    await Promise.all(servers.map((server) => server.stop()))
    await pgbouncer?.stop()
    // The cluster's keys go with it: its nodes persist nothing.
    await redisCluster?.stop()
    await backends.close()
    await deleteKeysWithPrefix(singlePrefix)
  }
}

/**
 * One line per contestant: sends/s and its ratio to the baseline's in the same turn, p99, the CPU
 * time one send cost in each group of processes and in the load generator, and how busy the cores
 * were, in all and with this run's processes (medians over the turns); then what one core given
 * to each group alone would serve at the costs of the largest setup.
 */
function report(figures: Map<string, TurnFigures>, contestants: readonly Contestant[]): void {
  const groups = [
    HAPROXY,
    SHARED_REDIS,
    HOT_MASTER,
    OTHER_MASTERS,
    REPLICAS,
    POSTGRES,
    PGBOUNCER_PROCESS,
  ]
  const cores = os.cpus().length
  const baselineNote = figures.get(BASELINE)?.alsoCpuUs[SHARED_REDIS]
    ? ' (an upper bound)'
    : ' without Redis (not on this machine)'
  const percent = (fraction: number): string => `${(fraction * 100).toFixed(0)}%`
  for (const { label } of contestants) {
    const entry = figures.get(label)
    if (!entry) continue
    const measured = groups.filter((group) => entry.alsoCpuUs[group])
    // Per turn, then the median, as every other figure here.
    const totals = entry.cpuUs.map(
      (instances, turn) =>
        instances + measured.reduce((sum, group) => sum + (entry.alsoCpuUs[group]?.[turn] ?? 0), 0),
    )
    const ours = totals.map(
      (total, turn) =>
        ((total + (entry.loadGeneratorCpuUs[turn] ?? 0)) * (entry.rps[turn] ?? 0)) / (1e6 * cores),
    )
    const cpu = [
      `instances ${median(entry.cpuUs).toFixed(0)} ` +
        `(${medianRatio(figures, label, BASELINE, 'cpuUs').toFixed(2)}x)`,
      ...measured.map((group) => `${group} ${median(entry.alsoCpuUs[group] ?? []).toFixed(0)}`),
    ]
    console.log(
      `${label.padEnd(30)} ${median(entry.rps).toFixed(0).padStart(6)} sends/s ` +
        `(${medianRatio(figures, label, BASELINE).toFixed(2)}x)   p99 ${median(entry.p99)} ms   ` +
        `CPU µs/send: ${cpu.join(', ')}; total ${median(totals).toFixed(0)}` +
        `${label === BASELINE ? baselineNote : ''}; ` +
        `load generator ${median(entry.loadGeneratorCpuUs).toFixed(0)}   ` +
        `cores busy ${percent(median(entry.machineBusy))}, this run's processes ` +
        `${percent(median(ours))}   ` +
        `non-2xx ${entry.non2xx.reduce((a, b) => a + b, 0)}   ` +
        `errors ${entry.errors.reduce((a, b) => a + b, 0)}   ` +
        `[${entry.rps.map((rps) => rps.toFixed(0)).join(', ')}]`,
    )
  }
  const largest = figures.get(balanced(INSTANCES))
  if (!largest) return
  const ceiling = (values: readonly number[] | undefined): string =>
    values ? (1e6 / median(values)).toFixed(0) : '?'
  console.log(
    `(ratios: each turn's figure over the ${BASELINE} line's in that turn)\n` +
      `a core to itself, at the costs of ${balanced(INSTANCES)}: an instance would serve ` +
      `${ceiling(largest.cpuUs)} sends/s, the {global} master's thread ` +
      `${ceiling(largest.alsoCpuUs[HOT_MASTER])}, haproxy ${ceiling(largest.alsoCpuUs[HAPROXY])}, ` +
      `Postgres's backends ${ceiling(largest.alsoCpuUs[POSTGRES])}`,
  )
}
