import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createRonglianSender,
  isRetryableRonglianCode,
  ronglianAuthorization,
  ronglianSig,
  ronglianTimestamp,
} from './ronglian-sender.ts'
import { RONGLIAN_ACCOUNT } from './testing/example-credentials.ts'
import { startFakeRonglian } from './testing/fake-ronglian.ts'
import type { FakeProvider } from './testing/fake-server.ts'
import { describeProviderContract, MESSAGE } from './testing/provider-contract.ts'

describe('ronglian request signing', () => {
  // Computed with Python's hashlib/base64 from the documented recipe (Ronglian publishes none).
  it('sig is the upper-case hex MD5 of accountSid + authToken + timestamp', () => {
    expect(
      ronglianSig(RONGLIAN_ACCOUNT.accountSid, RONGLIAN_ACCOUNT.authToken, '20240102003005'),
    ).toBe('6EACE12A44D474661AF43FCDA2FA341E')
  })

  it('Authorization is base64 of accountSid:timestamp', () => {
    expect(ronglianAuthorization(RONGLIAN_ACCOUNT.accountSid, '20240102003005')).toBe(
      'OGEyMTZkYTg2NjIzNjBhNDAxNjYyOWM2ZWQ4ZjFlNjU6MjAyNDAxMDIwMDMwMDU=',
    )
  })

  it('the timestamp is yyyyMMddHHmmss in Beijing time, whatever the server time zone', () => {
    expect(ronglianTimestamp(new Date('2024-01-01T16:30:05Z'))).toBe('20240102003005')
    expect(ronglianTimestamp(new Date('2024-12-31T15:59:59.999Z'))).toBe('20241231235959')
  })

  it('retries after busy channels and frequency limits, not after bad input or balance', () => {
    for (const code of ['111050', '160001', '160010', '160038', '160040', '160050']) {
      expect(isRetryableRonglianCode(code)).toBe(true)
    }
    for (const code of ['160032', '160042', '160014', '112311', '111109', '999999']) {
      expect(isRetryableRonglianCode(code)).toBe(false)
    }
  })
})

describe('ronglian request', () => {
  let fake: FakeProvider
  beforeAll(async () => {
    fake = await startFakeRonglian(RONGLIAN_ACCOUNT)
  })
  afterAll(() => fake.close())

  it('posts {to, appId, templateId, datas: [code, minutes]} to the account template SMS path', async () => {
    await createRonglianSender({
      ...RONGLIAN_ACCOUNT,
      templateId: '1',
      baseUrl: fake.url,
    }).sendCode(MESSAGE)
    expect(fake.problems).toEqual([])
    const [request] = fake.requests
    expect(request?.path).toBe(
      `/2013-12-26/Accounts/${RONGLIAN_ACCOUNT.accountSid}/SMS/TemplateSMS`,
    )
    expect(request?.query.get('sig')).toMatch(/^[0-9A-F]{32}$/)
    expect(JSON.parse(request?.body ?? '')).toEqual({
      to: '13812345678',
      appId: RONGLIAN_ACCOUNT.appId,
      templateId: '1',
      datas: ['012345', '5'],
    })
  })

  it('a clock in the wrong time zone would be refused by the fake', async () => {
    const eightHoursAgo = () => new Date(Date.now() - 8 * 3_600_000)
    const sender = createRonglianSender({
      ...RONGLIAN_ACCOUNT,
      templateId: '1',
      baseUrl: fake.url,
      now: eightHoursAgo,
    })
    await expect(sender.sendCode(MESSAGE)).rejects.toMatchObject({ retryable: false })
    expect(fake.problems.join()).toMatch(/Beijing time/)
    fake.problems.length = 0
  })
})

describeProviderContract({
  provider: 'ronglian',
  start: () => startFakeRonglian(RONGLIAN_ACCOUNT),
  create: (fake, options = {}) =>
    createRonglianSender({
      ...RONGLIAN_ACCOUNT,
      authToken: options.secret ?? RONGLIAN_ACCOUNT.authToken,
      templateId: '1',
      baseUrl: fake.url,
      ...options,
    }),
  retryableCodes: ['160038', '160040', '160000'],
  finalCodes: { badTemplate: '160032', badNumber: '160042', noBalance: '160014' },
})
