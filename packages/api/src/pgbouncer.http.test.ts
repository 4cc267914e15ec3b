import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { freshMobile } from '@signup/db/testing/mobiles'
import { startPgBouncer } from '@signup/db/testing/pgbouncer'
import type { RunningPgBouncer } from '@signup/db/testing/pgbouncer'
import { call, sendCode } from './testing/passport-calls.ts'
import type { PassportTarget } from './testing/passport-calls.ts'
import { TEST_REDIS_URL } from './testing/test-infra.ts'
import { startServer } from './testing/test-server.ts'
import { startTestStack } from './testing/test-stack.ts'
import type { TestStack } from './testing/test-stack.ts'

// The built production server behind Debian's PgBouncer in transaction mode (docs/contract.md
// section 10, decision record 020): more requests at once than the app has connections, and more
// app connections than PgBouncer has server sessions, so every session is shared.
const SERVER_SESSIONS = 2
const APP_CONNECTIONS = 6
const FLOWS = 12
const PASSWORD = 'Tr0ub4dor&3-pooled'
const NEW_PASSWORD = 'correct horse battery pooled'
/** Test numbers: their fixed codes are stored and checked as any code is, and no SMS is sent. */
const accounts = Array.from({ length: FLOWS }, (_, i) => ({
  mobile: freshMobile(),
  code: String(200_000 + i),
}))

let bouncer: RunningPgBouncer
let stack: TestStack

beforeAll(async () => {
  bouncer = await startPgBouncer({ poolSize: SERVER_SESSIONS })
  stack = await startTestStack('http-pgbouncer', (database) => ({
    DATABASE_URL: bouncer.url(database.name, {
      pgbouncer: 'true',
      connection_limit: String(APP_CONNECTIONS),
    }),
    SMS_TEST_NUMBERS: accounts.map(({ mobile, code }) => `${mobile}:${code}`).join(','),
    SMS_TEST_NUMBERS_IN_PRODUCTION: '1',
    SMS_LIMIT_IP_HOUR: '100000',
    SMS_LIMIT_PREFIX_HOUR: '100000',
  }))
}, 180_000)

afterAll(async () => {
  await stack?.stop()
  await bouncer?.stop()
})

/** Every step of contract sections 1 and 9 for one number, with the errno each answered. */
async function wholeFlow(target: PassportTarget, mobile: string, code: string) {
  const sent = await sendCode(target, mobile)
  const registered = await call(target, '/passport/register', {
    mobile,
    smscode: code,
    password: PASSWORD,
  })
  const me = await fetch(`${stack.server.url}/api/trpc/auth.me`, {
    headers: { cookie: registered.cookie ?? '' },
  }).then(
    (response) => response.json() as Promise<{ result?: { data: { mobile: string } | null } }>,
  )
  const sentAgain = await sendCode(target, mobile)
  const byPassword = await call(target, '/passport/login', { mobile, password: PASSWORD })
  const loginCode = await sendCode(target, mobile, 'login')
  const bySmsCode = await call(target, '/api/trpc/auth.loginWithSmsCode', { mobile, smsCode: code })
  const resetCode = await sendCode(target, mobile, 'reset')
  const reset = await call(target, '/api/trpc/auth.resetPassword', {
    mobile,
    smsCode: code,
    password: NEW_PASSWORD,
  })
  const oldPassword = await call(target, '/passport/login', { mobile, password: PASSWORD })
  const newPassword = await call(target, '/passport/login', { mobile, password: NEW_PASSWORD })
  return {
    sent: sent.errno,
    registered: registered.errno,
    me: me.result?.data?.mobile === mobile,
    sentAgain: sentAgain.errno,
    byPassword: byPassword.errno,
    loginCode: loginCode.errno,
    bySmsCode: bySmsCode.errno,
    resetCode: resetCode.errno,
    reset: reset.errno,
    oldPassword: oldPassword.errno,
    newPassword: newPassword.errno,
  }
}

describe('the production server through PgBouncer in transaction mode (pgbouncer=true)', () => {
  it(`sends, registers, signs in by password and by SMS code, and resets: ${FLOWS} numbers at once on ${SERVER_SESSIONS} server sessions`, async () => {
    const flows = await Promise.all(
      accounts.map(({ mobile, code }) => wholeFlow(stack, mobile, code)),
    )
    expect(flows).toEqual(
      accounts.map(() => ({
        sent: RET.OK,
        registered: RET.OK,
        me: true,
        sentAgain: RET.DATAEXIST,
        byPassword: RET.OK,
        loginCode: RET.OK,
        bySmsCode: RET.OK,
        resetCode: RET.OK,
        reset: RET.OK,
        oldPassword: RET.LOGINERR,
        newPassword: RET.OK,
      })),
    )
    // The app's connections really took turns on PgBouncer's sessions (they stay open, idle).
    const sessions = await bouncer.sessions(stack.database.name)
    expect(sessions.servers).toBeLessThanOrEqual(SERVER_SESSIONS)
    expect(sessions.clients).toBeGreaterThan(SERVER_SESSIONS)
    expect(stack.server.output()).toContain('(through a transaction pooler: no named statements)')
  }, 120_000)

  it('without pgbouncer=true the same server answers sends DBERR there: its named lookup collides on a shared session', async () => {
    const named = await startServer({
      DATABASE_URL: bouncer.url(stack.database.name, { connection_limit: String(APP_CONNECTIONS) }),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: stack.prefix,
      SMS_PROVIDER: 'console',
      SMS_LIMIT_IP_HOUR: '100000',
      SMS_LIMIT_PREFIX_HOUR: '100000',
    })
    const target: PassportTarget = {
      post: (path, body, headers = {}) =>
        fetch(`${named.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        }),
      redis: stack.redis,
    }
    try {
      const answers: number[] = []
      // Bursts of sends until one collides: each app connection prepares the statement once, on
      // whichever session it is handed, and finds another's there or its own missing.
      for (let burst = 0; burst < 20 && !answers.includes(RET.DBERR); burst++) {
        const sent = await Promise.all(
          Array.from({ length: FLOWS }, () => sendCode(target, freshMobile())),
        )
        answers.push(...sent.map((answer) => answer.errno ?? -1))
      }
      expect(answers).toContain(RET.DBERR)
      expect(answers.filter((errno) => errno !== RET.OK && errno !== RET.DBERR)).toEqual([])
      expect(named.output()).toMatch(/prepared statement \\?"signup-user-exists-by-mobile\\?"/)
    } finally {
      await named.stop()
    }
  }, 120_000)
})
