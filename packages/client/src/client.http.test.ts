import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { Redis } from 'ioredis'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumLaunchOptions } from '@signup/chromium'
import { freshMobile } from '@signup/db/testing/mobiles'
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_REDIS_URL,
  testKeyPrefix,
} from '@signup/api/testing/test-infra'
import type { TestDatabase } from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'
import { createAuthClient, refusalOf } from './client.ts'
import type { AuthClient, AuthClientError, Refusal } from './client.ts'
import type * as ClientModule from './client.ts'
import { createCookieJar } from './cookie-jar.ts'
import { getHealth } from './health.ts'

const prefix = testKeyPrefix('http-client')
const PASSWORD = 'correct horse battery'
// The stand-in SMS provider fails for this one mobile, so THIRDERR can be seen end to end. Drawn
// like the others, so no fresh mobile of a test can ever be it.
const FAILING_MOBILE = freshMobile()
let database: TestDatabase
let server: RunningServer
let provider: Server
let redis: Redis
let client: AuthClient
const delivered: string[] = []

/** Twilio's Messages API as far as the server's sender uses it; records each message's body. */
async function startFakeTwilio(): Promise<{ server: Server; url: string }> {
  const fake = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const form = new URLSearchParams(body)
      res.setHeader('content-type', 'application/json')
      if (form.get('To') === `+86${FAILING_MOBILE}`) {
        res.writeHead(500).end(JSON.stringify({ code: 20500, message: 'Internal Server Error' }))
        return
      }
      delivered.push(`${form.get('To')} ${form.get('Body')}`)
      res.writeHead(201).end(JSON.stringify({ sid: `SM${randomUUID().replaceAll('-', '')}` }))
    })
  })
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve))
  const { port } = fake.address() as { port: number }
  return { server: fake, url: `http://127.0.0.1:${port}` }
}

beforeAll(async () => {
  const twilio = await startFakeTwilio()
  provider = twilio.server
  database = await createTestDatabase('http_client')
  server = await startServer({
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SMS_PROVIDER: 'twilio',
    TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
    TWILIO_AUTH_TOKEN: '0123456789abcdef'.repeat(2),
    TWILIO_FROM: '+15005550006',
    TWILIO_BASE_URL: twilio.url,
    // This suite reads register codes from SMS_<mobile>, as the original's register view does
    // during a cut-over (SMS_CODE_STORAGE=plain); HMAC storage is tested in harden.http.test.ts.
    SMS_CODE_STORAGE: 'plain',
  })
  redis = new Redis(TEST_REDIS_URL, { keyPrefix: prefix, lazyConnect: true })
  await redis.connect()
  client = createAuthClient({ url: server.url })
}, 120_000)

afterAll(async () => {
  await server?.stop()
  redis?.disconnect()
  await new Promise((resolve) => provider?.close(resolve))
  await deleteKeysWithPrefix(prefix)
  await database?.drop()
})

/** A captcha from the server, with the answer read from Redis as the user would read the image. */
async function solvedCaptcha(): Promise<{ imageCodeId: string; answer: string }> {
  const { imageCodeId } = await client.auth.getImageCode.mutate()
  const answer = await redis.get(`ImageCode_${imageCodeId}`)
  if (answer === null) throw new Error('the captcha answer is not in Redis')
  return { imageCodeId, answer }
}

async function sendCode(mobile: string): Promise<string> {
  const { imageCodeId, answer } = await solvedCaptcha()
  await client.auth.sendSmsCode.mutate({ mobile, imageCode: answer, imageCodeId })
  const code = await redis.get(`SMS_${mobile}`)
  if (code === null) throw new Error('no SMS code in Redis')
  return code
}

/** What a call threw, as the client's typed error and its refusal. */
async function refusalFrom(call: Promise<unknown>): Promise<{
  error: AuthClientError
  refusal: Refusal | null
}> {
  const error = (await call.then(
    () => expect.fail('the call was not refused'),
    (thrown: unknown) => thrown,
  )) as AuthClientError
  return { error, refusal: refusalOf(error) }
}

describe('createAuthClient against the production server', () => {
  it('getImageCode: a PNG data URL, its id and lifetime; the answer waits in Redis', async () => {
    const captcha = await client.auth.getImageCode.mutate()
    expect(captcha.imageCodeId).toMatch(/^[0-9a-f-]{36}$/)
    expect(captcha.expiresIn).toBe(300)
    expect(captcha.image).toMatch(/^data:image\/png;base64,/)
    const png = Buffer.from(captcha.image.slice('data:image/png;base64,'.length), 'base64')
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
    expect(await redis.get(`ImageCode_${captcha.imageCodeId}`)).toMatch(/^[A-Z2-9]{4}$/)
  })

  it('sendSmsCode: sends the stored code; a second send inside the window is REQERR with retryAfter', async () => {
    const mobile = freshMobile()
    const { imageCodeId, answer } = await solvedCaptcha()
    // The captcha is compared case-insensitively.
    const sent = await client.auth.sendSmsCode.mutate({
      mobile,
      imageCode: answer.toLowerCase(),
      imageCodeId,
    })
    expect(sent).toEqual({ errno: 0, errmsg: '发送成功', expiresIn: 300, resendIn: 60 })
    const code = await redis.get(`SMS_${mobile}`)
    expect(code).toMatch(/^\d{6}$/)
    expect(delivered.find((message) => message.startsWith(`+86${mobile} `))).toContain(code)

    const again = await solvedCaptcha()
    const { error, refusal } = await refusalFrom(
      client.auth.sendSmsCode.mutate({
        mobile,
        imageCode: again.answer,
        imageCodeId: again.imageCodeId,
      }),
    )
    expect(refusal).toMatchObject({ errno: 4201, errmsg: '请求过于频繁，请稍后再试' })
    expect(refusal?.retryAfter).toBeGreaterThan(0)
    expect(refusal?.retryAfter).toBeLessThanOrEqual(60)
    expect(error.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429, errno: 4201 })
  })

  it('sendSmsCode refusals carry errno, errmsg, field and the fitting status', async () => {
    const registered = freshMobile()
    await client.auth.register.mutate({
      mobile: registered,
      smsCode: await sendCode(registered),
      password: PASSWORD,
    })
    const cases: [string, () => Promise<unknown>, Partial<Refusal>, number][] = [
      [
        'PARAMERR: an empty captcha',
        async () =>
          client.auth.sendSmsCode.mutate({
            mobile: freshMobile(),
            imageCode: '',
            imageCodeId: 'abcdefgh',
          }),
        { errno: 4103, errmsg: '参数不全', field: 'imageCode' },
        400,
      ],
      [
        'DATAERR: a malformed mobile',
        async () => {
          const { imageCodeId, answer } = await solvedCaptcha()
          return client.auth.sendSmsCode.mutate({
            mobile: '1380013800',
            imageCode: answer,
            imageCodeId,
          })
        },
        { errno: 4004, errmsg: '手机号不正确', field: 'mobile' },
        400,
      ],
      [
        'NODATA: a captcha id never issued',
        async () =>
          client.auth.sendSmsCode.mutate({
            mobile: freshMobile(),
            imageCode: 'ABCD',
            imageCodeId: randomUUID(),
          }),
        { errno: 4002, errmsg: '验证码已过期' },
        400,
      ],
      [
        'DATAERR: a wrong captcha',
        async () => {
          const { imageCodeId, answer } = await solvedCaptcha()
          const wrong = answer === 'AAAA' ? 'BBBB' : 'AAAA'
          return client.auth.sendSmsCode.mutate({
            mobile: freshMobile(),
            imageCode: wrong,
            imageCodeId,
          })
        },
        { errno: 4004, errmsg: '验证码输入错误', field: 'imageCode' },
        400,
      ],
      [
        'DATAEXIST: a registered mobile',
        async () => {
          const { imageCodeId, answer } = await solvedCaptcha()
          return client.auth.sendSmsCode.mutate({
            mobile: registered,
            imageCode: answer,
            imageCodeId,
          })
        },
        { errno: 4003, errmsg: '该手机已被注册' },
        409,
      ],
      [
        'THIRDERR: the SMS provider fails',
        async () => {
          const { imageCodeId, answer } = await solvedCaptcha()
          return client.auth.sendSmsCode.mutate({
            mobile: FAILING_MOBILE,
            imageCode: answer,
            imageCodeId,
          })
        },
        { errno: 4301, errmsg: '发送短信失败' },
        502,
      ],
    ]
    for (const [name, call, expected, status] of cases) {
      const { error, refusal } = await refusalFrom(call())
      expect(refusal, name).toMatchObject(expected)
      expect(error.data?.httpStatus, name).toBe(status)
    }
    // No SMS without a verifiable code, no code without an SMS.
    expect(await redis.get(`SMS_${FAILING_MOBILE}`)).toBeNull()
  })

  it('register, me and logout through a cookie jar: the session follows the jar', async () => {
    const jar = createCookieJar()
    const signedIn = createAuthClient({ url: server.url, fetch: jar.fetch })
    const mobile = freshMobile()
    expect(await signedIn.auth.me.query()).toBeNull()

    const registered = await signedIn.auth.register.mutate({
      mobile,
      smsCode: await sendCode(mobile),
      password: PASSWORD,
    })
    expect(registered).toEqual({
      errno: 0,
      errmsg: '注册成功',
      user: { id: expect.any(Number) as unknown, mobile, nickName: mobile },
    })
    expect(jar.get('__Host-sid')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(await signedIn.auth.me.query()).toEqual(registered.user)
    // Without the cookie the same server knows no one.
    expect(await client.auth.me.query()).toBeNull()

    // The headers option carries a session too (a cookie kept elsewhere).
    const byHeader = createAuthClient({
      url: server.url,
      headers: () => ({ cookie: jar.header() }),
    })
    expect(await byHeader.auth.me.query()).toEqual(registered.user)

    expect(await signedIn.auth.logout.mutate()).toEqual({ errno: 0, errmsg: '已退出登录' })
    expect(jar.get('__Host-sid')).toBeUndefined()
    expect(await signedIn.auth.me.query()).toBeNull()
    expect(await byHeader.auth.me.query()).toBeNull()
  })

  it('register refusals: wrong code, short password, no code, a registered mobile', async () => {
    const mobile = freshMobile()
    const code = await sendCode(mobile)
    const wrong = code === '000000' ? '111111' : '000000'
    const cases: [string, () => Promise<unknown>, Partial<Refusal>][] = [
      [
        'DATAERR: a wrong code',
        () => client.auth.register.mutate({ mobile, smsCode: wrong, password: PASSWORD }),
        { errno: 4004, errmsg: '短信验证码错误', field: 'smsCode' },
      ],
      [
        'PARAMERR: a short password',
        () => client.auth.register.mutate({ mobile, smsCode: code, password: 'short' }),
        { errno: 4103, errmsg: '密码长度应为 8 到 128 个字符', field: 'password' },
      ],
      [
        'NODATA: no code was sent',
        () =>
          client.auth.register.mutate({ mobile: freshMobile(), smsCode: code, password: PASSWORD }),
        { errno: 4002 },
      ],
    ]
    for (const [name, call, expected] of cases) {
      expect((await refusalFrom(call())).refusal, name).toMatchObject(expected)
    }
    await client.auth.register.mutate({ mobile, smsCode: code, password: PASSWORD })
    await redis.set(`SMS_${mobile}`, '314159', 'EX', 300)
    const { error, refusal } = await refusalFrom(
      client.auth.register.mutate({ mobile, smsCode: '314159', password: PASSWORD }),
    )
    expect(refusal).toMatchObject({ errno: 4003, errmsg: '该手机已被注册' })
    expect(error.data?.code).toBe('CONFLICT')
  })

  it('a refusal before the procedure (a cross-site Origin) is read the same way', async () => {
    const crossSite = createAuthClient({
      url: server.url,
      headers: { origin: 'https://evil.example' },
    })
    const { error, refusal } = await refusalFrom(crossSite.auth.getImageCode.mutate())
    expect(refusal).toEqual({ errno: 4103, errmsg: '参数不全' })
    expect(error.data?.httpStatus).toBe(403)
  })

  it('no answer at all is an error, not a refusal', async () => {
    const nowhere = createAuthClient({ url: 'http://127.0.0.1:1' })
    const { error, refusal } = await refusalFrom(nowhere.auth.me.query())
    expect(refusal).toBeNull()
    expect(error.name).toBe('TRPCClientError')
  })

  it('getHealth: ok when Postgres and Redis answer', async () => {
    expect(await getHealth({ url: `${server.url}/` })).toEqual({
      ok: true,
      httpStatus: 200,
      report: { status: 'ok', postgres: 'ok', redis: 'ok', down: [] },
    })
  })
})

describe('the client in a browser (Chromium)', () => {
  it('calls the server from a page of the same origin, the browser keeping the session cookie', async () => {
    const bundle = await build({
      entryPoints: [path.join(path.dirname(fileURLToPath(import.meta.url)), 'client.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'SignupClient',
      write: false,
      logLevel: 'silent',
    })
    const script = bundle.outputFiles[0]?.text ?? ''
    const browser = await chromium.launch(chromiumLaunchOptions())
    try {
      const page = await browser.newPage()
      const pageErrors: string[] = []
      page.on('pageerror', (error) => pageErrors.push(error.message))
      await page.goto(`${server.url}/healthz`)
      await page.addScriptTag({ content: script })
      type Window = {
        SignupClient: typeof ClientModule
        client: AuthClient
        location: { origin: string }
        document: { cookie: string }
      }

      const captcha = await page.evaluate(async () => {
        const window = globalThis as unknown as Window
        window.client = window.SignupClient.createAuthClient({ url: window.location.origin })
        const { imageCodeId, image } = await window.client.auth.getImageCode.mutate()
        return { imageCodeId, image: image.slice(0, 22) }
      })
      expect(captcha.image).toBe('data:image/png;base64,')
      const answer = (await redis.get(`ImageCode_${captcha.imageCodeId}`)) ?? ''

      const mobile = freshMobile()
      const sent = await page.evaluate(
        async ({ mobile, answer, imageCodeId }) => {
          const { client, SignupClient } = globalThis as unknown as Window
          const wrong = await client.auth.sendSmsCode
            .mutate({ mobile: '12345', imageCode: answer, imageCodeId })
            .catch((error: unknown) => SignupClient.refusalOf(error))
          const again = await client.auth.getImageCode.mutate()
          return { wrong, nextId: again.imageCodeId, mobile }
        },
        { mobile, answer, imageCodeId: captcha.imageCodeId },
      )
      expect(sent.wrong).toEqual({ errno: 4004, errmsg: '手机号不正确', field: 'mobile' })

      const nextAnswer = (await redis.get(`ImageCode_${sent.nextId}`)) ?? ''
      const result = await page.evaluate(
        async ({ mobile, imageCode, imageCodeId }) => {
          const { client } = globalThis as unknown as Window
          const sms = await client.auth.sendSmsCode.mutate({ mobile, imageCode, imageCodeId })
          return sms.errno
        },
        { mobile, imageCode: nextAnswer, imageCodeId: sent.nextId },
      )
      expect(result).toBe(0)

      const smsCode = (await redis.get(`SMS_${mobile}`)) ?? ''
      const session = await page.evaluate(
        async ({ mobile, smsCode, password }) => {
          const { client, document } = globalThis as unknown as Window
          const registered = await client.auth.register.mutate({ mobile, smsCode, password })
          const me = await client.auth.me.query()
          return { registered: registered.user.mobile, me, cookieVisible: document.cookie }
        },
        { mobile, smsCode, password: PASSWORD },
      )
      expect(session.registered).toBe(mobile)
      expect(session.me).toMatchObject({ mobile })
      // httpOnly: the page's scripts never see the session id.
      expect(session.cookieVisible).toBe('')
      expect(pageErrors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 60_000)
})
