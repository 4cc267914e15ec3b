import { createMemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import { sealedSmsCode, TEST_AUTH_SECRET } from './testing/test-services.ts'
import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '@signup/kv/store'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import { RET } from '@signup/trpc/ret'
import type { RandomSource } from './ports.ts'
import { authRouter } from './router.ts'
import { captchaKey, resendKey, smsCodeKey } from './stores.ts'
import {
  createTestCookie,
  createTestServices,
  failing,
  leastMsLeft,
  leastSecondsLeft,
  refusal,
} from './testing/test-services.ts'
import { createCallerFactory } from '@signup/trpc/init'
import { createCaptchaIds } from './captcha-ids.ts'
import { legacyImageCode } from './legacy-routes.ts'

const createCaller = createCallerFactory(authRouter)
const MOBILE = '13812345678'
const CAPTCHA_ID = 'captcha-id-0001'

async function setup(options: Parameters<typeof createTestServices>[0] = {}) {
  const env = createTestServices(options)
  // A store scripted to fail writes is seeded by its test through the store it wraps.
  await env.kv.set(captchaKey(CAPTCHA_ID), 'AB3K', 300).catch(() => undefined)
  const caller = createCaller({
    services: { auth: env.services },
    clientIp: '127.0.0.1',
    session: createTestCookie(),
  })
  return { ...env, caller }
}

describe('auth.sendSmsCode through createCaller', () => {
  it('OK: stores a 6-digit code, sends it once, claims the resend window, spends the captcha', async () => {
    const { caller, kv, limiter, sms } = await setup()
    const since = Date.now()
    const result = await caller.sendSmsCode({
      mobile: MOBILE,
      imageCode: 'AB3K',
      imageCodeId: CAPTCHA_ID,
    })
    expect(result).toEqual({ errno: 0, errmsg: '发送成功', expiresIn: 300, resendIn: 60 })
    expect(sms.sent).toHaveLength(1)
    expect(sms.sent[0]?.mobile).toBe(MOBILE)
    expect(sms.sent[0]?.code).toMatch(/^\d{6}$/)
    expect(sms.sent[0]?.ttlMinutes).toBe(5)
    expect(await kv.get(smsCodeKey(MOBILE))).toBe(
      sealedSmsCode('register', MOBILE, sms.sent[0]?.code ?? ''),
    )
    expect(await kv.pttl(smsCodeKey(MOBILE))).toBeGreaterThanOrEqual(leastMsLeft(300, since))
    expect(limiter.peek(resendKey(MOBILE))?.ttlMs).toBeGreaterThanOrEqual(leastMsLeft(60, since))
    expect(await kv.get(captchaKey(CAPTCHA_ID))).toBeNull()
  })

  it('keeps leading zeros of the code', async () => {
    const random: RandomSource = { int: () => 42, bytes: (size) => Buffer.alloc(size, 7) }
    const { caller, sms } = await setup({ random })
    await caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID })
    expect(sms.sent[0]?.code).toBe('000042')
  })

  it('compares the captcha case-insensitively and accepts and strips +86', async () => {
    const { caller, kv, sms } = await setup()
    await caller.sendSmsCode({ mobile: `+86${MOBILE}`, imageCode: 'ab3k', imageCodeId: CAPTCHA_ID })
    expect(sms.sent[0]?.mobile).toBe(MOBILE)
    expect(await kv.get(smsCodeKey(MOBILE))).not.toBeNull()
  })

  it('PARAMERR (4103) when a field is missing or empty, and nothing changes', async () => {
    const { caller, kv, sms } = await setup()
    for (const input of [
      { imageCode: 'AB3K', imageCodeId: CAPTCHA_ID },
      { mobile: MOBILE, imageCode: '', imageCodeId: CAPTCHA_ID },
      { mobile: 'not-a-mobile', imageCodeId: CAPTCHA_ID },
      { mobile: MOBILE, imageCode: 42, imageCodeId: CAPTCHA_ID },
    ]) {
      const r = await refusal(caller.sendSmsCode(input as never))
      expect(r).toMatchObject({ code: 'BAD_REQUEST', errno: RET.PARAMERR, errmsg: '参数不全' })
    }
    expect(await kv.get(captchaKey(CAPTCHA_ID))).toBe('AB3K')
    expect(sms.sent).toHaveLength(0)
  })

  it.each([
    '1381234567',
    '138123456789',
    '12812345678',
    '138 1234 5678',
    '138-1234-5678',
    '１３８１２３４５６７８',
    `${MOBILE}\n`,
    ` ${MOBILE}`,
    '+8512812345678',
  ])('DATAERR (4004) for the mobile %j, captcha untouched', async (mobile) => {
    const { caller, kv } = await setup()
    const r = await refusal(
      caller.sendSmsCode({ mobile, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({
      code: 'BAD_REQUEST',
      errno: RET.DATAERR,
      errmsg: '手机号不正确',
      field: 'mobile',
    })
    expect(await kv.get(captchaKey(CAPTCHA_ID))).toBe('AB3K')
  })

  it.each(['14012345678', '16612345678', '19912345678'])(
    'accepts the newer range %s',
    async (mobile) => {
      const { caller } = await setup()
      const result = await caller.sendSmsCode({
        mobile,
        imageCode: 'AB3K',
        imageCodeId: CAPTCHA_ID,
      })
      expect(result.errno).toBe(0)
    },
  )

  it('NODATA (4002) for an unknown or expired captcha, and for a captcha used twice', async () => {
    const { caller } = await setup()
    expect(
      await refusal(
        caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: 'nope-0000' }),
      ),
    ).toMatchObject({ code: 'BAD_REQUEST', errno: RET.NODATA, errmsg: '验证码已过期' })
    await caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID })
    expect(
      await refusal(
        caller.sendSmsCode({ mobile: '13900000000', imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
      ),
    ).toMatchObject({ errno: RET.NODATA })
  })

  it('DATAERR (4004) for a wrong captcha, which is spent all the same', async () => {
    const { caller, kv, sms } = await setup()
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'XXXX', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({
      code: 'BAD_REQUEST',
      errno: RET.DATAERR,
      errmsg: '验证码输入错误',
      field: 'imageCode',
    })
    expect(await kv.get(captchaKey(CAPTCHA_ID))).toBeNull()
    expect(sms.sent).toHaveLength(0)
  })

  it('DATAEXIST (4003) for a registered mobile, with no code stored', async () => {
    const { caller, kv, sms } = await setup({ users: createMemoryUserDirectory([MOBILE]) })
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({
      code: 'CONFLICT',
      errno: RET.DATAEXIST,
      errmsg: '该手机已被注册',
      field: 'mobile',
    })
    expect(await kv.get(smsCodeKey(MOBILE))).toBeNull()
    expect(sms.sent).toHaveLength(0)
  })

  it('REQERR (4201) with retryAfter inside the resend window', async () => {
    const { caller, kv, sms } = await setup()
    const since = Date.now()
    await caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID })
    await kv.set(captchaKey('captcha-id-0002'), 'ZZ99', 300)
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'ZZ99', imageCodeId: 'captcha-id-0002' }),
    )
    expect(r).toMatchObject({ code: 'TOO_MANY_REQUESTS', errno: RET.REQERR })
    expect(r.errmsg).toBe('请求过于频繁，请稍后再试')
    expect(r.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(60, since))
    expect(r.retryAfter).toBeLessThanOrEqual(60)
    expect(sms.sent).toHaveLength(1)
  })

  it('THIRDERR (4301) when the provider fails: no code and no resend window are left', async () => {
    const { caller, kv, limiter, sms, logger } = await setup()
    sms.failNext()
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({ code: 'BAD_GATEWAY', errno: RET.THIRDERR, errmsg: '发送短信失败' })
    expect(await kv.get(smsCodeKey(MOBILE))).toBeNull()
    expect(limiter.peek(resendKey(MOBILE))).toBeNull()
    expect(JSON.stringify(logger.lines)).not.toContain(MOBILE)
    // The window was freed: a retry with a new captcha goes through at once.
    await kv.set(captchaKey('captcha-id-0002'), 'ZZ99', 300)
    const retried = await caller.sendSmsCode({
      mobile: MOBILE,
      imageCode: 'ZZ99',
      imageCodeId: 'captcha-id-0002',
    })
    expect(retried.errno).toBe(0)
    expect(sms.sent).toHaveLength(1)
  })

  it('DBERR (4001) when the captcha cannot be read', async () => {
    const { caller } = await setup({ kv: failing(new MemoryStore(), ['getDel']) })
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({ errno: RET.DBERR, errmsg: '获取图片验证码失败' })
  })

  it('DBERR (4001) when the user lookup fails', async () => {
    const users = {
      ...createMemoryUserDirectory(),
      existsByMobile: () => Promise.reject(new Error('connection refused')),
    }
    const { caller, sms } = await setup({ users })
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({ errno: RET.DBERR, errmsg: '数据库查询错误' })
    expect(sms.sent).toHaveLength(0)
  })

  it('DBERR (4001) when the code cannot be stored: the resend window is released', async () => {
    const kv = new MemoryStore()
    const { caller, sms } = await setup({ kv: failing(kv, ['setThenDel']) })
    await kv.set(captchaKey(CAPTCHA_ID), 'AB3K', 300)
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({ errno: RET.DBERR, errmsg: '保存短信验证码失败' })
    expect(await kv.get(resendKey(MOBILE))).toBeNull()
    expect(sms.sent).toHaveLength(0)
  })

  it('DBERR (4001) when the send limits cannot be counted', async () => {
    const limiter = new MemoryLimiter()
    limiter.take = () => Promise.reject(new StoreUnavailableError('scripted outage'))
    const { caller, sms } = await setup({ limiter })
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({ errno: RET.DBERR, errmsg: '保存短信验证码失败' })
    expect(sms.sent).toHaveLength(0)
  })

  it('SERVERERR (4500) for a failure that is not a refusal of the domain', async () => {
    const { caller } = await setup({
      users: {
        ...createMemoryUserDirectory(),
        existsByMobile: () => {
          throw new TypeError('secret internals')
        },
      },
    })
    const r = await refusal(
      caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: CAPTCHA_ID }),
    )
    expect(r).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      errno: RET.SERVERERR,
      errmsg: '内部错误',
    })
  })
})

describe('auth.getImageCode through createCaller', () => {
  it('answers a PNG data URL and stores the answer under the new id for its lifetime', async () => {
    const { caller, kv } = await setup()
    const since = Date.now()
    const result = await caller.getImageCode()
    expect(result.imageCodeId).toMatch(/^[0-9a-f-]{36}$/)
    expect(result.image.startsWith('data:image/png;base64,iVBORw0KGgo')).toBe(true)
    expect(result.expiresIn).toBe(300)
    expect(await kv.get(captchaKey(result.imageCodeId))).toMatch(/^[A-Z2-9]{4}$/)
    expect(await kv.pttl(captchaKey(result.imageCodeId))).toBeGreaterThanOrEqual(
      leastMsLeft(300, since),
    )
  })

  it('never takes over a key that exists: an id already in the store is drawn again', async () => {
    const taken = createCaptchaIds(TEST_AUTH_SECRET, (size) => Buffer.alloc(size, 1)).issue()
    let draws = 0
    const random: RandomSource = {
      int: () => 0,
      bytes: (size) => Buffer.alloc(size, ++draws === 1 ? 1 : 2),
    }
    const { caller, kv } = await setup({ random })
    await kv.set(captchaKey(taken), 'LEGA', 300)
    const { imageCodeId } = await caller.getImageCode()
    expect(imageCodeId).not.toBe(taken)
    expect(await kv.get(captchaKey(taken))).toBe('LEGA')
    expect(await kv.get(captchaKey(imageCodeId))).toBe('AAAA')
  })

  it('the legacy route refuses the ids it issues (400, PARAMERR), leaving the answer; it replaces its own', async () => {
    const { services, kv, caller } = await setup()
    const { imageCodeId } = await caller.getImageCode()
    const answer = await kv.get(captchaKey(imageCodeId))
    const refused = await legacyImageCode(services, imageCodeId, { clientIp: '127.0.0.1' })
    expect(refused).toEqual({
      kind: 'json',
      response: { status: 400, body: { errno: 4103, errmsg: '参数不全' }, headers: {} },
    })
    expect(await kv.get(captchaKey(imageCodeId))).toBe(answer)
    const own = 'legacy-client-id-1'
    expect((await legacyImageCode(services, own, { clientIp: '127.0.0.1' })).kind).toBe('image')
    expect((await legacyImageCode(services, own, { clientIp: '127.0.0.1' })).kind).toBe('image')
  })

  it('DBERR (4001) 获取图片验证码失败 when the answer cannot be stored', async () => {
    const { caller } = await setup({ kv: failing(new MemoryStore(), ['setIfAbsent']) })
    expect(await refusal(caller.getImageCode())).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      errno: RET.DBERR,
      errmsg: '获取图片验证码失败',
    })
  })
})
