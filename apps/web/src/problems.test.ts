import { describe as group, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { MESSAGES } from './messages.ts'
import { describe, placeRefusal } from './problems.ts'

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
  })

  it("words the page's own checks from its messages, and nothing as ''", () => {
    expect(describe({ kind: 'client', key: 'network' }, MESSAGES.en, 'en')).toBe(
      MESSAGES.en.network,
    )
    expect(describe(undefined, MESSAGES.en, 'en')).toBe('')
  })
})
