import { describe as group, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { MESSAGES } from './messages.ts'
import { describe, placeRefusal, retryAfterOf } from './problems.ts'

const SEND_FIELDS = ['mobile', 'imageCode'] as const
const REGISTER_FIELDS = ['smsCode', 'password'] as const

group('placeRefusal', () => {
  it('puts a refusal beside the field it names', () => {
    const refusal = { errno: RET.DATAEXIST, errmsg: '该手机已被注册', field: 'mobile' }
    expect(placeRefusal(refusal, SEND_FIELDS, 'imageCode')).toEqual({
      slot: 'mobile',
      problem: { kind: 'server', ...refusal },
    })
    expect(
      placeRefusal({ errno: RET.DATAERR, errmsg: 'x', field: 'smsCode' }, REGISTER_FIELDS).slot,
    ).toBe('smsCode')
  })

  it('puts one naming no field of the form in the fallback slot', () => {
    const expired = { errno: RET.NODATA, errmsg: '验证码已过期', field: undefined }
    expect(placeRefusal(expired, SEND_FIELDS, 'imageCode').slot).toBe('imageCode')
    expect(placeRefusal({ ...expired, field: 'imageCodeId' }, SEND_FIELDS, 'imageCode').slot).toBe(
      'imageCode',
    )
    expect(
      placeRefusal({ errno: RET.DATAERR, errmsg: 'x', field: 'mobile' }, REGISTER_FIELDS).slot,
    ).toBe('general')
  })

  it.each([RET.DBERR, RET.THIRDERR, RET.SERVERERR])(
    'puts errno %i in the general message, whatever field it names',
    (errno) => {
      expect(
        placeRefusal({ errno, errmsg: 'x', field: 'mobile' }, SEND_FIELDS, 'imageCode').slot,
      ).toBe('general')
    },
  )

  it("puts LOGINERR, which names no field, where the form says (the sign-in's password)", () => {
    const refusal = { errno: RET.LOGINERR, errmsg: '手机号或密码错误', field: undefined }
    expect(placeRefusal(refusal, ['mobile', 'password'] as const, 'password').slot).toBe('password')
  })

  it('makes a failure without an errno the network message', () => {
    for (const data of [undefined, null, {}, { errno: String(RET.DBERR) }]) {
      expect(placeRefusal(data, SEND_FIELDS, 'imageCode')).toEqual({
        slot: 'general',
        problem: { kind: 'client', key: 'network' },
      })
    }
  })
})

group('describe', () => {
  const refusal = {
    kind: 'server',
    errno: RET.DATAERR,
    errmsg: '短信验证码错误',
    field: 'smsCode',
  } as const

  it("shows the server's own words in zh-CN and English ones by errno and field in English", () => {
    expect(describe(refusal, MESSAGES['zh-CN'], 'zh-CN')).toBe('短信验证码错误')
    expect(describe(refusal, MESSAGES.en, 'en')).toBe('The SMS code is wrong')
    const loginRefusal = { ...refusal, errno: RET.LOGINERR, field: undefined }
    expect(describe(loginRefusal, MESSAGES.en, 'en')).toBe(
      'The mobile number or the password is wrong',
    )
  })

  it("words the page's own checks from its messages, and nothing as ''", () => {
    expect(describe({ kind: 'client', key: 'network' }, MESSAGES.en, 'en')).toBe(
      MESSAGES.en.network,
    )
    expect(describe(undefined, MESSAGES.en, 'en')).toBe('')
  })
})

group('retryAfterOf', () => {
  it("reads a REQERR's retryAfter, and nothing from any other failure", () => {
    expect(retryAfterOf({ errno: RET.REQERR, retryAfter: 42 })).toBe(42)
    expect(retryAfterOf({ errno: RET.REQERR })).toBeNull()
    expect(retryAfterOf({ errno: RET.DBERR, retryAfter: 42 })).toBeNull()
    expect(retryAfterOf(undefined)).toBeNull()
  })
})
