import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { freshMobile } from '@signup/db/testing/mobiles'
import { startPgBouncer } from '@signup/db/testing/pgbouncer'
import type { RunningPgBouncer } from '@signup/db/testing/pgbouncer'
import { startPrivatePostgres } from '@signup/db/testing/private-postgres'
import type { PrivatePostgres } from '@signup/db/testing/private-postgres'
import { call, sendCode } from './testing/passport-calls.ts'
import type { Answer } from './testing/passport-calls.ts'
import { waitUntil } from './testing/test-infra.ts'
import { startTestStack } from './testing/test-stack.ts'
import type { TestStack } from './testing/test-stack.ts'

// Postgres crashes and comes back while the built server is under load, on a Postgres of the test's
// own (never the shared one): through PgBouncer in transaction mode, and straight to Postgres,
// where the app's own pooled connections are the ones that die.
const SERVER_SESSIONS = 2
const APP_CONNECTIONS = 4
/** Requests in flight at once: more than the app has connections, and than PgBouncer has sessions. */
const CLIENTS = 8
/** A bound on the load, whatever the machine's speed: it stops by itself. */
const MAX_REQUESTS = 20_000
const PASSWORD = 'Tr0ub4dor&3-restart'
/**
 * What the README recommends for an outage (decision record 020): a request waiting for a server
 * session fails after 5 s instead of 120, and PgBouncer tries Postgres again 2 s after a failed
 * connect instead of 15, so it is back within about that once Postgres is.
 */
const PGBOUNCER_OUTAGE_SETTINGS = { query_wait_timeout: 5, server_login_retry: 2 }

interface Timed extends Answer {
  path: 'sms_code' | 'register'
  /** When the request was sent, and when its answer came. */
  started: number
  at: number
}

/** CLIENTS loops, half sending register codes, half registering fresh numbers, until stopped. */
function startLoad(stack: TestStack) {
  const answers: Timed[] = []
  let running = true
  const loop = async (registering: boolean) => {
    while (running && answers.length < MAX_REQUESTS) {
      const mobile = freshMobile()
      const started = Date.now()
      let answer: Answer
      if (registering) {
        const code = await stack.seedSmsCode('register', mobile, '135790')
        answer = await call(stack, '/passport/register', {
          mobile,
          smscode: code,
          password: PASSWORD,
        })
      } else {
        answer = await sendCode(stack, mobile)
      }
      answers.push({
        ...answer,
        path: registering ? 'register' : 'sms_code',
        started,
        at: Date.now(),
      })
    }
  }
  const loops = Array.from({ length: CLIENTS }, (_, i) => loop(i % 2 === 1))
  return {
    answers,
    /** Waits until `count` answers match; fails if the load ended first. */
    async waitFor(
      what: string,
      count: number,
      match: (answer: Timed) => boolean,
      timeoutMs = 60_000,
    ) {
      await waitUntil(
        what,
        () => {
          if (!running || answers.length >= MAX_REQUESTS)
            throw new Error(`the load ended before: ${what}`)
          return answers.filter(match).length >= count
        },
        { timeoutMs },
      )
    },
    async stop() {
      running = false
      await Promise.all(loops)
      return answers
    },
  }
}

describe.each([
  { topology: 'behind PgBouncer in transaction mode', pooled: true },
  { topology: 'with the app connected to Postgres itself', pooled: false },
])('Postgres crashes and restarts under load, $topology', ({ topology, pooled }) => {
  let postgres: PrivatePostgres
  let bouncer: RunningPgBouncer | undefined
  let stack: TestStack

  beforeAll(async () => {
    postgres = await startPrivatePostgres()
    if (pooled) {
      bouncer = await startPgBouncer({
        upstream: postgres.url(),
        poolSize: SERVER_SESSIONS,
        settings: PGBOUNCER_OUTAGE_SETTINGS,
      })
    }
    stack = await startTestStack(
      pooled ? 'http-pg-restart-pooled' : 'http-pg-restart',
      (database) => ({
        DATABASE_URL: bouncer
          ? bouncer.url(database.name, {
              pgbouncer: 'true',
              connection_limit: String(APP_CONNECTIONS),
            })
          : `${database.url}?connection_limit=${APP_CONNECTIONS}`,
        SMS_LIMIT_IP_HOUR: '1000000',
        SMS_LIMIT_PREFIX_HOUR: '1000000',
        SMS_LIMIT_GLOBAL_HOUR: '1000000',
      }),
      { postgresAdminUrl: postgres.url() },
    )
  }, 180_000)

  afterAll(async () => {
    await stack?.stop()
    await bouncer?.stop()
    await postgres?.stop()
  })

  it('answers OK or DBERR throughout, recovers by itself, and no stale connection fails a request after', async () => {
    const load = startLoad(stack)
    const ok = (path: Timed['path'], since: number) => (answer: Timed) =>
      answer.path === path && answer.started > since && answer.errno === RET.OK
    let answers: Timed[]
    let crashed = 0
    let back = 0
    let recovered = 0
    try {
      await load.waitFor('a send succeeds', 1, ok('sms_code', 0))
      await load.waitFor('a register succeeds', 1, ok('register', 0))
      crashed = Date.now()
      await postgres.crash()
      await load.waitFor(
        'requests answer DBERR while Postgres is down',
        CLIENTS / 2,
        (answer) => answer.started > crashed && answer.errno === RET.DBERR,
      )
      await postgres.start()
      back = Date.now()
      // Generous: behind PgBouncer the first request can wait for its server_login_retry, and a
      // machine half as fast takes longer.
      await load.waitFor('a send succeeds again', 1, ok('sms_code', back), 120_000)
      await load.waitFor('a register succeeds again', 1, ok('register', back), 120_000)
      recovered = Math.min(
        ...load.answers
          .filter((answer) => answer.at > back && answer.errno === RET.OK)
          .map((answer) => answer.at),
      )
      await load.waitFor(
        'requests sent after the recovery are answered',
        2 * CLIENTS,
        (answer) => answer.started > recovered,
      )
    } finally {
      answers = await load.stop()
    }
    const duringOutage = answers.filter(
      (answer) => answer.started > crashed && answer.started < back,
    )
    // The figures the issue asks this test to report, in its output as it runs.
    // eslint-disable-next-line no-console
    console.log(
      `Postgres crash ${topology}: down ${back - crashed} ms, ${duringOutage.length} requests sent meanwhile ` +
        `(${answers.filter((answer) => answer.errno === RET.DBERR).length} DBERR of ${answers.length} answers, ` +
        `the slowest answered in ${Math.max(...duringOutage.map((answer) => answer.at - answer.started))} ms); ` +
        `the first OK ${recovered - back} ms after Postgres answered again`,
    )

    // Every answer was the service's: OK, or DBERR while the database was away; never a 5xx.
    const unexpected = answers.filter(
      (answer) => answer.status !== 200 || (answer.errno !== RET.OK && answer.errno !== RET.DBERR),
    )
    expect(unexpected).toEqual([])
    // Once it answered OK, no connection left over from before the crash failed a request: every
    // request sent after that, more at once than the pool has connections, succeeded.
    const afterRecovery = answers.filter((answer) => answer.started > recovered)
    expect(afterRecovery.length).toBeGreaterThanOrEqual(2 * CLIENTS)
    expect(afterRecovery.filter((answer) => answer.errno !== RET.OK)).toEqual([])
    expect(stack.server.process.exitCode).toBeNull()
  }, 240_000)
})
