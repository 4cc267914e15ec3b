import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeBasic, startFakeTwilio } from './testing/fake-twilio.ts'
import type { FakeProvider } from './testing/fake-server.ts'
import { describeProviderContract, MESSAGE } from './testing/provider-contract.ts'
import { basicAuthorization, createTwilioSender, isRetryableTwilioAnswer } from './twilio-sender.ts'

const ACCOUNT = {
  accountSid: 'AC0123456789abcdef0123456789abcdef',
  authToken: '0123456789abcdef0123456789abcdef',
}

describe('Twilio Basic auth', () => {
  // RFC 7617, section 2: user "Aladdin", password "open sesame".
  it('encodes and decodes the published RFC 7617 example', () => {
    expect(basicAuthorization('Aladdin', 'open sesame')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==')
    expect(decodeBasic('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==')).toEqual({
      user: 'Aladdin',
      password: 'open sesame',
    })
  })

  it('retries after 429 and 5xx only', () => {
    expect(isRetryableTwilioAnswer(429, '20429')).toBe(true)
    expect(isRetryableTwilioAnswer(503, '')).toBe(true)
    expect(isRetryableTwilioAnswer(400, '21211')).toBe(false)
    expect(isRetryableTwilioAnswer(401, '20003')).toBe(false)
  })
})

describe('twilio request', () => {
  let fake: FakeProvider
  beforeAll(async () => {
    fake = await startFakeTwilio(ACCOUNT)
  })
  afterAll(() => fake.close())

  it('posts To in E.164, From and the filled-in Body as a form', async () => {
    await createTwilioSender({ ...ACCOUNT, from: '+15005550006', baseUrl: fake.url }).sendCode(
      MESSAGE,
    )
    expect(fake.problems).toEqual([])
    const form = new URLSearchParams(fake.requests[0]?.body)
    expect(Object.fromEntries(form)).toEqual({
      To: '+8613812345678',
      From: '+15005550006',
      Body: 'Your verification code is 012345. It expires in 5 minutes.',
    })
  })

  it('sends through a Messaging Service with a custom template', async () => {
    fake.requests.length = 0
    await createTwilioSender({
      ...ACCOUNT,
      from: 'MG0123456789abcdef0123456789abcdef',
      template: '【Signup】{code} ({minutes} min)',
      baseUrl: fake.url,
    }).sendCode(MESSAGE)
    const form = new URLSearchParams(fake.requests[0]?.body)
    expect(form.get('MessagingServiceSid')).toBe('MG0123456789abcdef0123456789abcdef')
    expect(form.get('From')).toBeNull()
    expect(form.get('Body')).toBe('【Signup】012345 (5 min)')
  })
})

describeProviderContract({
  provider: 'twilio',
  start: () => startFakeTwilio(ACCOUNT),
  create: (fake, options = {}) =>
    createTwilioSender({
      ...ACCOUNT,
      authToken: options.secret ?? ACCOUNT.authToken,
      from: '+15005550006',
      baseUrl: fake.url,
      ...options,
    }),
  retryableCodes: ['20429'],
  finalCodes: { badTemplate: '21617', badNumber: '21211', noBalance: '20005' },
})
