import { describe, expect, it } from 'vitest'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { RET } from '@signup/trpc/ret'
import { createCallerFactory } from '@signup/trpc/init'
import { legacySendSmsCode } from './legacy-routes.ts'
import { authRouter } from './router.ts'
import { sendLimitKeys } from './send-limiter.ts'
import { captchaKey } from './stores.ts'
import {
  createTestCookie,
  createTestServices,
  failing,
  outcome,
  TEST_CONFIG,
} from './testing/test-services.ts'

const createCaller = createCallerFactory(authRouter)

/** The core counts each call's outcome once, on either surface (docs/contract.md section 11). */
function setup(options: Parameters<typeof createTestServices>[0] = {}) {
  const env = createTestServices({
    config: { limits: { ...TEST_CONFIG.limits, ipHour: 2, captchaIpMinute: 1 } },
    ...options,
  })
  const caller = (clientIp = '203.0.113.7') =>
    createCaller({ services: { auth: env.services }, clientIp, session: createTestCookie() })
  let captcha = 0
  const seedCaptcha = async () => {
    const imageCodeId = `captcha-${++captcha}-0000`
    await env.kv.set(captchaKey(imageCodeId), 'AB3K', 300).catch(() => undefined)
    return imageCodeId
  }
  const send = async (mobile: string, clientIp?: string) =>
    outcome(
      caller(clientIp).sendSmsCode({ mobile, imageCode: 'AB3K', imageCodeId: await seedCaptcha() }),
    )
  return { ...env, caller, send, seedCaptcha }
}

describe('what the auth core counts', () => {
  it('a send by purpose and outcome, and the limit behind each REQERR', async () => {
    const { send, metrics } = setup()
    expect(await send('13812345678')).toBe(RET.OK)
    expect(await send('13812345678')).toBe(RET.REQERR)
    expect(await send('13812345679')).toBe(RET.OK)
    expect(await send('13812345670')).toBe(RET.REQERR) // a third send from the one IP
    expect(metrics.events).toEqual([
      'smsSend register,OK',
      'limitRefusal resend',
      'smsSend register,REQERR',
      'smsSend register,OK',
      'limitRefusal ip-hour',
      'smsSend register,REQERR',
    ])
  })

  it('refusals before the limits and a provider failure by their errno name', async () => {
    const { send, metrics, sms, caller, seedCaptcha } = setup()
    const wrong = await outcome(
      caller().sendSmsCode({
        mobile: '13812345678',
        imageCode: 'ZZZZ',
        imageCodeId: await seedCaptcha(),
      }),
    )
    expect(wrong).toBe(RET.DATAERR)
    expect(
      await outcome(
        caller().sendSmsCode({
          mobile: '13812345678',
          imageCode: 'AB3K',
          imageCodeId: 'never-issued',
        }),
      ),
    ).toBe(RET.NODATA)
    sms.failNext(1, { retryable: false })
    expect(await send('13812345678')).toBe(RET.THIRDERR)
    expect(metrics.events).toEqual([
      'smsSend register,DATAERR',
      'smsSend register,NODATA',
      'smsSend register,THIRDERR',
    ])
  })

  it('a send whose code cannot be stored is DBERR', async () => {
    const healthy = setup()
    const env = setup({ kv: failing(healthy.kv, ['setThenDel']) })
    // The captcha is seeded through the healthy store the failing one wraps.
    const imageCodeId = await healthy.seedCaptcha()
    expect(
      await outcome(
        env.caller().sendSmsCode({ mobile: '13812345678', imageCode: 'AB3K', imageCodeId }),
      ),
    ).toBe(RET.DBERR)
    expect(env.metrics.events).toEqual(['smsSend register,DBERR'])
  })

  it('the legacy route counts through the same core, and its input refusals are not sends', async () => {
    const { services, metrics, seedCaptcha } = setup()
    const body = { mobile: '13812345678', image_code: 'AB3K', image_code_id: await seedCaptcha() }
    expect((await legacySendSmsCode(services, body, { clientIp: null })).body.errno).toBe(RET.OK)
    expect((await legacySendSmsCode(services, {}, { clientIp: null })).body.errno).toBe(
      RET.PARAMERR,
    )
    expect(metrics.events).toEqual(['smsSend register,OK'])
  })

  it('every limit is named in its refusal: the per-mobile, per-range and global counters', async () => {
    const now = Date.UTC(2025, 0, 1)
    const limiter = new MemoryLimiter({ now: () => now })
    const { send, metrics, limiter: shared } = setup({ limiter })
    // The counters at their limits, as earlier sends would have left them.
    const fill = async (key: string, count: number, windowSeconds: number) => {
      for (let i = 0; i < count; i++) {
        await shared.take([[{ name: key, key, limit: count, windowSeconds }]])
      }
    }
    await fill(sendLimitKeys.mobileHour('13812340001'), 5, 3600)
    await fill(sendLimitKeys.mobileDay('13812340002'), 10, 86_400)
    await fill(sendLimitKeys.prefixHour('1391234'), 30, 3600)
    expect(await send('13812340001', '203.0.113.1')).toBe(RET.REQERR)
    expect(await send('13812340002', '203.0.113.2')).toBe(RET.REQERR)
    expect(await send('13912340003', '203.0.113.3')).toBe(RET.REQERR)
    await fill(sendLimitKeys.globalHour(), 1000, 3600)
    expect(await send('13712340004', '203.0.113.4')).toBe(RET.REQERR)
    expect(metrics.events.filter((event) => event.startsWith('limitRefusal'))).toEqual([
      'limitRefusal mobile-hour',
      'limitRefusal mobile-day',
      'limitRefusal prefix-hour',
      'limitRefusal global-hour',
    ])
  })

  it('captcha images by outcome, and the captcha limit', async () => {
    const { caller, metrics } = setup()
    expect(await outcome(caller('198.51.100.9').getImageCode())).toBe(RET.OK)
    expect(await outcome(caller('198.51.100.9').getImageCode())).toBe(RET.REQERR)
    expect(metrics.events).toEqual([
      'captchaImage OK',
      'limitRefusal captcha-ip-minute',
      'captchaImage REQERR',
    ])
  })

  it('register as a sign-in by method register, with its outcome', async () => {
    const { services, caller, metrics } = setup()
    await services.smsCodeStore.save('13812345678', '048213', 300)
    const input = { mobile: '13812345678', smsCode: '048213', password: 'correct horse' }
    expect(await outcome(caller().register(input))).toBe(RET.OK)
    expect(await outcome(caller().register(input))).toBe(RET.NODATA)
    expect(metrics.events).toEqual(['signIn register,OK', 'signIn register,NODATA'])
  })
})
