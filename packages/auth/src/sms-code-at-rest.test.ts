import { describe, expect, it } from 'vitest'
import { sendSmsCode } from './send-sms-code.ts'
import { checkSmsCode } from './sms-code-check.ts'
import { createSmsCodeSealer } from './sms-code-at-rest.ts'
import { smsCodeKey, smsCodeKeys } from './stores.ts'
import {
  createTestServices,
  SEALED_CODE,
  sealedSmsCode,
  TEST_AUTH_SECRET,
} from './testing/test-services.ts'

const MOBILE = '13812345678'
const OTHER = '13912345678'
const CODE = '048213'

describe('SMS codes at rest (decision record 017)', () => {
  it('keeps an HMAC of every purpose’s code, never its digits', async () => {
    const { services, kv } = createTestServices()
    for (const purpose of ['register', 'login', 'reset'] as const) {
      await services.smsCodeStore.for(purpose).save(MOBILE, CODE, 300)
      const stored = await kv.get(smsCodeKeys(purpose).code(MOBILE))
      expect(stored).toMatch(SEALED_CODE)
      expect(stored).not.toContain(CODE)
    }
  })

  it('binds the HMAC to the key, the mobile and the purpose', () => {
    const seal = createSmsCodeSealer(TEST_AUTH_SECRET).seal
    const sealed = seal('register', MOBILE, CODE)
    expect(seal('register', OTHER, CODE)).not.toBe(sealed)
    expect(seal('login', MOBILE, CODE)).not.toBe(sealed)
    expect(seal('register', MOBILE, '048214')).not.toBe(sealed)
    expect(
      createSmsCodeSealer(`${TEST_AUTH_SECRET}-other`).seal('register', MOBILE, CODE),
    ).not.toBe(sealed)
  })

  it('refuses a key under 32 bytes', () => {
    expect(() => createSmsCodeSealer('x'.repeat(31))).toThrow(/AUTH_SECRET/)
  })

  it('verifies and consumes the right code; a stored value copied to another mobile matches nothing', async () => {
    const { services, kv } = createTestServices()
    await services.smsCodeStore.save(MOBILE, CODE, 300)
    // Whoever can write Redis but not read AUTH_SECRET: another mobile's HMAC, or plain digits.
    await kv.set(smsCodeKey(OTHER), sealedSmsCode('register', MOBILE, CODE), 300)
    await expect(
      checkSmsCode(services, { purpose: 'register', mobile: OTHER, smsCode: CODE }),
    ).rejects.toMatchObject({ ret: 'DATAERR' })
    await kv.set(smsCodeKey(OTHER), CODE, 300)
    await expect(
      checkSmsCode(services, { purpose: 'register', mobile: OTHER, smsCode: CODE }),
    ).rejects.toMatchObject({ ret: 'DATAERR' })

    await checkSmsCode(services, { purpose: 'register', mobile: MOBILE, smsCode: CODE })
    expect(await kv.get(smsCodeKey(MOBILE))).toBeNull()
  })

  it('plain mode keeps the original’s digits in SMS_<mobile>, for register codes only', async () => {
    const { services, kv } = createTestServices({ smsCodeStorage: 'plain' })
    await services.smsCodeStore.save(MOBILE, CODE, 300)
    await services.smsCodeStore.for('login').save(MOBILE, CODE, 300)
    expect(await kv.get(smsCodeKey(MOBILE))).toBe(CODE)
    expect(await kv.get(smsCodeKeys('login').code(MOBILE))).toBe(
      sealedSmsCode('login', MOBILE, CODE),
    )
    // The original's register view wrote SMS_<mobile> itself: such a code verifies here too.
    await kv.set(smsCodeKey(OTHER), '271828', 300)
    await checkSmsCode(services, { purpose: 'register', mobile: OTHER, smsCode: '271828' })
    await checkSmsCode(services, { purpose: 'login', mobile: MOBILE, smsCode: CODE })
    await checkSmsCode(services, { purpose: 'register', mobile: MOBILE, smsCode: CODE })
  })

  it.each(['hmac', 'plain'] as const)(
    'test numbers get their fixed code in %s mode',
    async (mode) => {
      const testNumbers = new Map([['13800000000', '123456']])
      const { services, kv } = createTestServices({ smsCodeStorage: mode, config: { testNumbers } })
      for (const purpose of ['register', 'login'] as const) {
        await kv.set('ImageCode_test-number-captcha', 'Q7RT', 300)
        await sendSmsCode(
          services,
          { mobile: '13800000000', imageCode: 'q7rt', imageCodeId: 'test-number-captcha', purpose },
          { clientIp: '127.0.0.1' },
        )
        expect(await kv.get(smsCodeKeys(purpose).code('13800000000'))).toBe(
          sealedSmsCode(purpose, '13800000000', '123456', mode),
        )
        await checkSmsCode(services, { purpose, mobile: '13800000000', smsCode: '123456' })
      }
    },
  )
})
