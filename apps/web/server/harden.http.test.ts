import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sessionKey } from '@signup/auth/session-store'
import { captchaKey } from '@signup/auth/stores'
import { SEALED_CODE, sealedSmsCode } from '@signup/auth/testing/test-services'
import { startServer } from '@signup/api/testing/test-server'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { freshMobile } from '@signup/db/testing/mobiles'

/** Issue 14's findings against the built server, each on the stack it needs. */

const TEST_NUMBER = freshMobile()
const TEST_CODE = '246810'

let hmac: TestStack
let plain: TestStack
/** Behind a proxy, with a captcha limit small enough to reach. */
let proxied: TestStack
const CAPTCHAS_PER_MINUTE = 5
const FAILED_LOGINS_PER_HOUR = 3

beforeAll(async () => {
  const testNumbers = {
    SMS_TEST_NUMBERS: `${TEST_NUMBER}:${TEST_CODE}`,
    SMS_TEST_NUMBERS_IN_PRODUCTION: '1',
  }
  ;[hmac, plain, proxied] = await Promise.all([
    startTestStack('http-harden', testNumbers),
    startTestStack('http-harden-plain', { ...testNumbers, SMS_CODE_STORAGE: 'plain' }),
    startTestStack('http-harden-proxied', {
      TRUST_PROXY: '1',
      CAPTCHA_LIMIT_IP_MINUTE: String(CAPTCHAS_PER_MINUTE),
      LOGIN_LIMIT_IP_HOUR: String(FAILED_LOGINS_PER_HOUR),
    }),
  ])
}, 180_000)

afterAll(async () => {
  await Promise.all([hmac?.stop(), plain?.stop(), proxied?.stop()])
})

/** Sends a code for `purpose` through the legacy route, past a captcha seeded in Redis. */
async function send(stack: TestStack, mobile: string, purpose = 'register'): Promise<number> {
  const id = randomUUID()
  await stack.redis.set(captchaKey(id), 'Q7RT', 300)
  const response = await stack.post(
    '/passport/sms_code',
    JSON.stringify({ mobile, image_code: 'q7rt', image_code_id: id, purpose }),
  )
  return ((await response.json()) as { errno: number }).errno
}

async function loginWithCode(stack: TestStack, mobile: string, smsCode: string) {
  const response = await stack.post(
    '/api/trpc/auth.loginWithSmsCode',
    JSON.stringify({ mobile, smsCode }),
  )
  return (await response.json()) as {
    result?: { data: { errno: number } }
    error?: { data: { errno: number } }
  }
}

describe('SMS codes at rest (item 10, decision record 017)', () => {
  it('a code read straight from Redis is its HMAC, not its digits, for every purpose', async () => {
    const mobile = freshMobile()
    expect(await send(hmac, mobile, 'register')).toBe(0)
    expect(await send(hmac, mobile, 'login')).toBe(0)
    const register = await hmac.redis.get(`SMS_${mobile}`)
    const login = await hmac.redis.get(`signup:sms-code:login:{${mobile}}`)
    expect(register).toMatch(SEALED_CODE)
    expect(login).toMatch(SEALED_CODE)
    expect(register).not.toBe(login)
  })

  it('test numbers work in hmac mode: the fixed code is stored sealed and signs in', async () => {
    expect(await send(hmac, TEST_NUMBER, 'login')).toBe(0)
    expect(await hmac.redis.get(`signup:sms-code:login:{${TEST_NUMBER}}`)).toBe(
      sealedSmsCode('login', TEST_NUMBER, TEST_CODE),
    )
    expect((await loginWithCode(hmac, TEST_NUMBER, TEST_CODE)).result?.data.errno).toBe(0)
  })

  it('plain mode: the start line names the weaker mode; register digits in SMS_<mobile>, never logged', async () => {
    expect(plain.server.output()).toMatch(/SMS_CODE_STORAGE=plain, the weaker mode/)
    expect(hmac.server.output()).toContain('sms codes: hmac')
    const mobile = freshMobile()
    expect(await send(plain, mobile, 'register')).toBe(0)
    expect(await send(plain, mobile, 'login')).toBe(0)
    const code = await plain.redis.get(`SMS_${mobile}`)
    expect(code).toMatch(/^\d{6}$/)
    // Login and reset codes stay sealed even in plain mode.
    expect(await plain.redis.get(`signup:sms-code:login:{${mobile}}`)).toMatch(SEALED_CODE)
    await plain.logsFlushed()
    expect(plain.server.output()).toContain(`${mobile.slice(0, 3)}****${mobile.slice(-4)}`)
    expect(plain.server.output()).not.toContain(code)
  })

  it('test numbers work in plain mode too', async () => {
    expect(await send(plain, TEST_NUMBER, 'login')).toBe(0)
    expect((await loginWithCode(plain, TEST_NUMBER, TEST_CODE)).result?.data.errno).toBe(0)
  })

  it.each([
    ['unset', ''],
    ['31 bytes', 'x'.repeat(31)],
  ])('a production start with AUTH_SECRET %s exits, naming it', async (_, value) => {
    const started = startServer({
      DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
      REDIS_URL: 'redis://127.0.0.1:1',
      SMS_PROVIDER: 'console',
      AUTH_SECRET: value,
    })
    await expect(started).rejects.toThrow(/exited with 1[\s\S]*AUTH_SECRET/)
  })
})

describe('wrong codes capped per mobile across codes and purposes (item 7)', () => {
  const trpcErrno = async (path: string, fields: unknown) => {
    const response = await hmac.post(path, JSON.stringify(fields))
    const body = (await response.json()) as {
      result?: { data: { errno: number } }
      error?: { data: { errno: number; retryAfter?: number } }
    }
    return {
      status: response.status,
      errno: body.result?.data.errno ?? body.error?.data.errno,
      body,
    }
  }

  it('past SMS_VERIFY_LIMIT_MOBILE_DAY (10) wrong codes, even the right one is refused with REQERR until the day ends', async () => {
    const mobile = freshMobile()
    // Three purposes, each code tried fewer than its own five times: only the daily cap stops them.
    await hmac.seedSmsCode('login', mobile, '271828')
    for (let i = 0; i < 4; i++) {
      const { errno } = await trpcErrno('/api/trpc/auth.loginWithSmsCode', {
        mobile,
        smsCode: `00000${i}`,
      })
      expect(errno).toBe(4004)
    }
    await hmac.seedSmsCode('register', mobile, '314159')
    for (let i = 0; i < 4; i++) {
      const response = await hmac.post(
        '/passport/register',
        JSON.stringify({ mobile, smscode: `10000${i}`, password: 'correct horse battery' }),
      )
      expect(((await response.json()) as { errno: number }).errno).toBe(4004)
    }
    // A new login code buys no new guesses.
    await hmac.seedSmsCode('login', mobile, '161803')
    for (let i = 0; i < 2; i++) {
      const { errno } = await trpcErrno('/api/trpc/auth.loginWithSmsCode', {
        mobile,
        smsCode: `20000${i}`,
      })
      expect(errno).toBe(4004)
    }

    const right = await trpcErrno('/api/trpc/auth.loginWithSmsCode', { mobile, smsCode: '161803' })
    expect(right.status).toBe(429)
    expect(right.errno).toBe(4201)
    expect(right.body.error?.data.retryAfter).toBeGreaterThan(86_000)
    const legacy = await hmac.post(
      '/passport/register',
      JSON.stringify({ mobile, smscode: '314159', password: 'correct horse battery' }),
    )
    expect(((await legacy.json()) as { errno: number }).errno).toBe(4201)
    expect(Number(legacy.headers.get('retry-after'))).toBeGreaterThan(86_000)
    // Not compared, so not consumed: the codes are there for when the window ends.
    expect(await hmac.redis.get(`signup:sms-code:login:{${mobile}}`)).toBe(
      sealedSmsCode('login', mobile, '161803'),
    )
    // The same refusal for the reset code, whatever the account.
    await hmac.seedSmsCode('reset', mobile, '141421')
    const reset = await trpcErrno('/api/trpc/auth.resetPassword', {
      mobile,
      smsCode: '141421',
      password: 'a brand new password',
    })
    expect(reset.errno).toBe(4201)
  })
})

describe('X-Forwarded-For forms behind TRUST_PROXY (item 2): a per-IP limit is never skipped', () => {
  const captcha = (forwardedFor: string) =>
    fetch(`${proxied.server.url}/passport/image_code?imageCodeId=${randomUUID()}`, {
      headers: { 'x-forwarded-for': forwardedFor, 'x-request-id': `xff-${randomUUID()}` },
    })
  const statuses = async (forms: string[]) => {
    const answers: number[] = []
    // One at a time, so the order of the counts is the order of the forms.
    for (const form of forms) answers.push((await captcha(form)).status)
    return answers
  }
  const allowed = Array<number>(CAPTCHAS_PER_MINUTE).fill(200)

  it('an IPv4 address with a port is that address', async () => {
    const ip = '198.51.100.7'
    const forms = [`${ip}:1234`, `${ip}:5678`, `10.0.0.1, ${ip}:1`, ip, `${ip}:80`]
    expect(await statuses(forms)).toEqual(allowed)
    expect((await captcha(`${ip}:4321`)).status).toBe(429)
    expect((await captcha(ip)).status).toBe(429)
    expect((await captcha('198.51.100.8:4321')).status).toBe(200)
  })

  it('an IPv6 address in brackets, with or without a port, is that address (its /64)', async () => {
    const forms = [
      '[2001:db8:7::1]:443',
      '[2001:db8:7::2]',
      '2001:db8:7::3',
      '"[2001:db8:7::4]:8080"',
      '[2001:db8:7::5]:1',
    ]
    expect(await statuses(forms)).toEqual(allowed)
    expect((await captcha('[2001:db8:7::6]:443')).status).toBe(429)
  })

  it("the sign-in issue's per-IP limit too: failed sign-ins from one address with any port are one client", async () => {
    const login = (forwardedFor: string) =>
      proxied.post(
        '/passport/login',
        JSON.stringify({ mobile: freshMobile(), password: 'not the password' }),
        { 'x-forwarded-for': forwardedFor },
      )
    const errnos = []
    for (const form of ['198.51.100.30:1111', '198.51.100.30:2222', '"198.51.100.30"']) {
      errnos.push(((await (await login(form)).json()) as { errno: number }).errno)
    }
    expect(errnos).toEqual(Array<number>(FAILED_LOGINS_PER_HOUR).fill(4102))
    const refused = await login('198.51.100.30:3333')
    expect(((await refused.json()) as { errno: number }).errno).toBe(4201)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('unknown, garbage after a comma and other non-addresses count against the socket address, with a log line', async () => {
    const forms = ['unknown', '198.51.100.9, garbage', '_hidden', '1.2.3.5:', '[nope]:1']
    expect(await statuses(forms)).toEqual(allowed)
    // All five were the socket's (127.0.0.1): the sixth, whatever it claims to be, is refused.
    expect((await captcha('unknown')).status).toBe(429)
    expect((await captcha('198.51.100.10, ???')).status).toBe(429)
    await proxied.logsFlushed()
    const warnings = proxied.server
      .output()
      .split('\n')
      .filter((line) => line.includes('X-Forwarded-For entry is not an address'))
    expect(warnings.length).toBeGreaterThanOrEqual(7)
    for (const line of warnings) expect(JSON.parse(line)).toMatchObject({ level: 40 })
  })
})

describe('the Origin check compares scheme, host and port (item 5)', () => {
  const routes = [
    '/passport/sms_code',
    '/passport/login',
    '/passport/logout',
    '/passport/register',
    '/api/trpc/auth.sendSmsCode',
    '/api/trpc/auth.login',
    '/api/trpc/auth.loginWithSmsCode',
    '/api/trpc/auth.resetPassword',
    '/api/trpc/auth.logout',
  ]
  const host = () => `127.0.0.1:${hmac.server.port}`

  it.each(routes)(
    '%s refuses ws://, wss://, foo:// and https:// of the same host and port with 403',
    async (path) => {
      for (const scheme of ['ws', 'wss', 'foo', 'https']) {
        const response = await hmac.post(path, '{}', { origin: `${scheme}://${host()}` })
        expect({ scheme, status: response.status }).toEqual({ scheme, status: 403 })
      }
      const same = await hmac.post(path, '{}', { origin: `http://${host()}` })
      expect(same.status).not.toBe(403)
    },
  )

  it('behind a trusted proxy, X-Forwarded-Proto names the scheme', async () => {
    const origin = `https://127.0.0.1:${proxied.server.port}`
    const viaTls = await proxied.post('/passport/login', '{}', {
      origin,
      'x-forwarded-proto': 'https',
    })
    expect(viaTls.status).not.toBe(403)
    const plainHttp = await proxied.post('/passport/login', '{}', { origin })
    expect(plainHttp.status).toBe(403)
    // Without TRUST_PROXY the header is the client's word, and ignored.
    const spoofed = await hmac.post('/passport/login', '{}', {
      origin: `https://${host()}`,
      'x-forwarded-proto': 'https',
    })
    expect(spoofed.status).toBe(403)
  })
})

describe('tRPC batching is off (item 1)', () => {
  const captchaKeys = () => hmac.redis.redis.keys('ImageCode_*')

  it('a POST batch answers 400 and runs none of its calls', async () => {
    const before = (await captchaKeys()).length
    const names = Array<string>(50).fill('auth.getImageCode').join(',')
    const response = await hmac.post(`/api/trpc/${names}?batch=1`, '{}')
    expect(response.status).toBe(400)
    const body = (await response.json()) as { error?: { message: string } }
    expect(JSON.stringify(body)).toContain('Batching is not enabled')
    expect((await captchaKeys()).length).toBe(before)
  })

  it('a GET batch of auth.me answers 400; a single call still answers', async () => {
    const names = Array<string>(400).fill('auth.me').join(',')
    const batch = await fetch(`${hmac.server.url}/api/trpc/${names}?batch=1`)
    expect(batch.status).toBe(400)
    const single = await fetch(`${hmac.server.url}/api/trpc/auth.me`)
    expect(single.status).toBe(200)
  })

  it('names joined by commas without batch=1 are no procedure: 404', async () => {
    const response = await hmac.post('/api/trpc/auth.getImageCode,auth.getImageCode', '{}')
    expect(response.status).toBe(404)
  })
})

describe('every storage failure writes one error line (item 3)', () => {
  /** A captcha id whose key holds a hash: GETDEL fails with WRONGTYPE, a store fault (4001). */
  async function brokenCaptcha(): Promise<string> {
    const id = randomUUID()
    await hmac.redis.redis.hset(captchaKey(id), 'not', 'a string')
    return id
  }
  const linesOf = (requestId: string) =>
    hmac.server
      .output()
      .split('\n')
      .filter((line) => line.includes(requestId))
      .map((line) => JSON.parse(line) as Record<string, unknown>)

  it.each([
    [
      'legacy',
      '/passport/sms_code',
      (mobile: string, id: string) => ({ mobile, image_code: 'q7rt', image_code_id: id }),
    ],
    [
      'trpc',
      '/api/trpc/auth.sendSmsCode',
      (mobile: string, id: string) => ({ mobile, imageCode: 'q7rt', imageCodeId: id }),
    ],
  ])('%s: 4001 with the request id, the cause and the masked mobile', async (_, path, body) => {
    const mobile = freshMobile()
    const requestId = `fault-${randomUUID()}`
    const response = await hmac.post(path, JSON.stringify(body(mobile, await brokenCaptcha())), {
      'x-request-id': requestId,
    })
    expect(JSON.stringify(await response.json())).toContain('4001')
    await hmac.logsFlushed()
    const errors = linesOf(requestId).filter((line) => line.level === 50)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({
      reqId: requestId,
      mobile: `${mobile.slice(0, 3)}****${mobile.slice(-4)}`,
    })
    expect(String(errors[0]?.cause)).toContain('WRONGTYPE')
    expect(JSON.stringify(errors[0])).not.toContain(mobile)
  })

  /** The failed sign-ins of this mobile are counted in a key holding no number: the count fails. */
  async function brokenSignInCount(): Promise<string> {
    const mobile = freshMobile()
    await hmac.redis.set(`signup:login-mobile-15min:{${mobile}}`, 'not a count', 300)
    return mobile
  }

  it.each([['/passport/login'], ['/api/trpc/auth.login']])(
    "the sign-in issue's %s: 4001 读取登录限制失败 with one error line, the cause and the masked mobile",
    async (path) => {
      const mobile = await brokenSignInCount()
      const requestId = `fault-${randomUUID()}`
      const response = await hmac.post(
        path,
        JSON.stringify({ mobile, password: 'correct horse battery' }),
        { 'x-request-id': requestId },
      )
      expect(JSON.stringify(await response.json())).toContain('读取登录限制失败')
      await hmac.logsFlushed()
      const errors = linesOf(requestId).filter((line) => line.level === 50)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ mobile: `${mobile.slice(0, 3)}****${mobile.slice(-4)}` })
      expect(String(errors[0]?.cause)).toContain('is not a number')
    },
  )

  it('auth.me, whose session cannot be read: 4001 读取登录状态失败 (as docs/http-api.md names it), one error line', async () => {
    const id = 'B'.repeat(43)
    await hmac.redis.redis.hset(sessionKey(id), 'not', 'a session')
    const requestId = `fault-${randomUUID()}`
    const response = await fetch(`${hmac.server.url}/api/trpc/auth.me`, {
      headers: { cookie: `__Host-sid=${id}`, 'x-request-id': requestId },
    })
    expect(response.status).toBe(500)
    const body = (await response.json()) as { error: { data: unknown } }
    expect(body.error.data).toMatchObject({ errno: 4001, errmsg: '读取登录状态失败' })
    await hmac.logsFlushed()
    const errors = linesOf(requestId).filter((line) => line.level === 50)
    expect(errors).toHaveLength(1)
    expect(String(errors[0]?.cause)).toContain('WRONGTYPE')
  })
})

describe('captcha images (item 6, in part)', () => {
  it('carry Cross-Origin-Resource-Policy: same-origin, for GET and HEAD', async () => {
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(
        `${hmac.server.url}/passport/image_code?imageCodeId=${randomUUID()}`,
        { method },
      )
      expect(response.status).toBe(200)
      expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin')
    }
  })
})

describe('the captcha id space (item 6): the legacy route never replaces a captcha the server issued', () => {
  const legacyImage = (id: string, method = 'GET') =>
    fetch(`${hmac.server.url}/passport/image_code?imageCodeId=${id}`, { method })
  async function issued(): Promise<{ imageCodeId: string; answer: string | null }> {
    const response = await hmac.post('/api/trpc/auth.getImageCode', '')
    const body = (await response.json()) as { result: { data: { imageCodeId: string } } }
    const { imageCodeId } = body.result.data
    return { imageCodeId, answer: await hmac.redis.get(captchaKey(imageCodeId)) }
  }

  it('a GET or HEAD of /passport/image_code with an id auth.getImageCode issued is 400, and the captcha keeps its answer', async () => {
    const { imageCodeId, answer } = await issued()
    expect(answer).toMatch(/^[A-Z2-9]{4}$/)
    for (const method of ['GET', 'HEAD']) {
      const response = await legacyImage(imageCodeId, method)
      expect({ method, status: response.status }).toEqual({ method, status: 400 })
      expect(response.headers.get('content-type')).not.toContain('image/png')
      if (method === 'GET')
        expect(await response.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
    }
    expect(await hmac.redis.get(captchaKey(imageCodeId))).toBe(answer)
    // Its owner still sends a code with the answer it was shown.
    const sent = await hmac.post(
      '/api/trpc/auth.sendSmsCode',
      JSON.stringify({ mobile: freshMobile(), imageCode: answer, imageCodeId }),
    )
    expect(
      ((await sent.json()) as { result?: { data: { errno: number } } }).result?.data.errno,
    ).toBe(0)
  })

  it("the original's ids are served as before: a UUID, and the same id again replaces the answer", async () => {
    const id = randomUUID()
    expect((await legacyImage(id)).status).toBe(200)
    const first = await hmac.redis.get(captchaKey(id))
    expect(first).toMatch(/^[A-Z2-9]{4}$/)
    // The original's behaviour (docs/http-api.md): whoever knows a legacy id may ask for it again.
    let replaced = false
    for (let i = 0; i < 5 && !replaced; i++) {
      expect((await legacyImage(id)).status).toBe(200)
      replaced = (await hmac.redis.get(captchaKey(id))) !== first
    }
    expect(replaced).toBe(true)
    // An issued id in capitals is another key: served, and the issued captcha is untouched.
    const { imageCodeId, answer } = await issued()
    expect((await legacyImage(imageCodeId.toUpperCase())).status).toBe(200)
    expect(await hmac.redis.get(captchaKey(imageCodeId))).toBe(answer)
  })
})

describe('405 answers name the methods allowed, on both surfaces (item 9)', () => {
  it.each([
    ['GET', '/passport/sms_code', 'POST'],
    ['PUT', '/passport/login', 'POST'],
    ['HEAD', '/passport/logout', 'GET, POST'],
    ['POST', '/passport/image_code', 'GET, HEAD'],
    ['DELETE', '/healthz', 'GET, HEAD'],
    ['GET', '/api/trpc/auth.login', 'POST'],
    ['GET', '/api/trpc/auth.loginWithSmsCode', 'POST'],
    ['GET', '/api/trpc/auth.resetPassword', 'POST'],
    ['GET', '/api/trpc/auth.logout', 'POST'],
    ['POST', '/api/trpc/auth.me', 'GET'],
    ['PUT', '/api/trpc/auth.me', 'GET'],
    ['DELETE', '/api/trpc/auth.sendSmsCode', 'POST'],
    ['PUT', '/api/trpc/auth.unknown', 'GET, POST'],
  ])('%s %s: 405 with Allow: %s', async (method, path, allow) => {
    const response = await fetch(`${hmac.server.url}${path}`, {
      method,
      ...(method === 'GET' || method === 'HEAD'
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: '{}' }),
    })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe(allow)
  })
})

describe('tRPC error messages never echo the request (item 9)', () => {
  const MARK = 'Echo7f3aMark'
  const PROCEDURES = [
    'auth.getImageCode',
    'auth.sendSmsCode',
    'auth.register',
    'auth.login',
    'auth.loginWithSmsCode',
    'auth.resetPassword',
    'auth.logout',
    'auth.me',
  ]
  const BODIES = [
    MARK,
    `{"mobile": ${MARK}}`,
    `{"mobile": "${MARK}`,
    `["${MARK}"]`,
    `"${MARK}"`,
    `{"${MARK}": 1}`,
    JSON.stringify(
      Object.fromEntries(
        ['mobile', 'password', 'smsCode', 'imageCode', 'imageCodeId', 'purpose'].map((field) => [
          field,
          MARK,
        ]),
      ),
    ),
    JSON.stringify({ mobile: { [MARK]: [MARK] }, purpose: [MARK], password: 8 }),
  ]
  const answer = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${hmac.server.url}${path}`, init)
    return { path, status: response.status, text: await response.text() }
  }

  it('no answer to an odd body, query input, procedure name or content type holds what was sent', async () => {
    const answers = []
    for (const procedure of PROCEDURES) {
      for (const body of BODIES) {
        answers.push(
          await answer(`/api/trpc/${procedure}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          }),
          await answer(`/api/trpc/${procedure}?input=${encodeURIComponent(body)}`),
        )
      }
      answers.push(
        await answer(`/api/trpc/${procedure}`, {
          method: 'POST',
          headers: { 'content-type': `application/${MARK}` },
          body: '{}',
        }),
      )
    }
    for (const name of [`auth.${MARK}`, MARK, `auth.me${MARK}`, `${MARK}%0A%7B%22x%22:1%7D`]) {
      answers.push(
        await answer(`/api/trpc/${name}`),
        await answer(`/api/trpc/${name}?batch=1&input=${MARK}`),
        await answer(`/api/trpc/${name}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: MARK,
        }),
      )
    }
    const echoed = answers.filter(({ text }) => text.includes(MARK))
    expect(echoed).toEqual([])
    // They were refusals, each with the errno table's fields.
    expect(answers.filter(({ status }) => status >= 500)).toEqual([])
  })
})

describe('the session cookie is __Host-sid in production (item 9)', () => {
  const me = async (cookie: string) => {
    const response = await fetch(`${hmac.server.url}/api/trpc/auth.me`, { headers: { cookie } })
    return ((await response.json()) as { result: { data: { mobile: string } | null } }).result.data
  }

  it('a sign-in sets __Host-sid (Secure, Path=/, no Domain); a sid cookie is no session there', async () => {
    const mobile = freshMobile()
    await hmac.seedSmsCode('login', mobile, '135791')
    const response = await hmac.post(
      '/api/trpc/auth.loginWithSmsCode',
      JSON.stringify({ mobile, smsCode: '135791' }),
    )
    const [pair = '', ...attributes] = (response.headers.get('set-cookie') ?? '')
      .split(';')
      .map((part) => part.trim())
    expect(pair).toMatch(/^__Host-sid=[A-Za-z0-9_-]{43}$/)
    expect(attributes).toEqual(
      expect.arrayContaining(['Secure', 'Path=/', 'HttpOnly', 'SameSite=Lax']),
    )
    expect(attributes.filter((attribute) => /^domain=/i.test(attribute))).toEqual([])
    const id = pair.slice('__Host-sid='.length)
    expect(await me(`__Host-sid=${id}`)).toMatchObject({ mobile })
    // A sibling subdomain can plant `sid` (it cannot plant `__Host-sid`): read first, it is ignored.
    expect(await me(`sid=${id}`)).toBeNull()
    expect(await me(`sid=${'A'.repeat(43)}; __Host-sid=${id}`)).toMatchObject({ mobile })
  })
})
