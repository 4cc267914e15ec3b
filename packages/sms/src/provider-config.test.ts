import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConfiguredSender } from './configured-sender.ts'
import {
  checkSmsProviderEnv,
  readSmsProviderSettings,
  SMS_PROVIDER_VARIABLES,
  smsEnvShape,
} from './provider-config.ts'
import { startFakeRonglian } from './testing/fake-ronglian.ts'
import type { FakeProvider } from './testing/fake-server.ts'
import {
  ALIYUN,
  RONGLIAN,
  RONGLIAN_ACCOUNT,
  TENCENT,
  TWILIO,
} from './testing/example-credentials.ts'
import { MESSAGE } from './testing/provider-contract.ts'

describe('checkSmsProviderEnv', () => {
  it('asks nothing of console, nor of providers that are not chosen', () => {
    expect(checkSmsProviderEnv(['console'], {})).toEqual([])
    expect(checkSmsProviderEnv(['ronglian'], { ...RONGLIAN, ALIYUN_ACCESS_KEY_ID: '?' })).toEqual(
      [],
    )
  })

  it.each(Object.entries(SMS_PROVIDER_VARIABLES))(
    'names each missing required variable of %s',
    (provider, variables) => {
      const issues = checkSmsProviderEnv([provider as 'ronglian'], {})
      const required = variables.filter(
        (name) => !/_BASE_URL$|_REGION$|_TEMPLATE_PARAMS$|TWILIO_MESSAGE_TEMPLATE$/.test(name),
      )
      expect(issues).toEqual(
        required.map((variable) => ({
          variable,
          message: `is required when SMS_PROVIDER includes ${provider}`,
        })),
      )
    },
  )

  it('counts an empty variable as missing', () => {
    expect(checkSmsProviderEnv(['ronglian'], { ...RONGLIAN, RONGLIAN_APP_ID: ' ' })).toEqual([
      { variable: 'RONGLIAN_APP_ID', message: 'is required when SMS_PROVIDER includes ronglian' },
    ])
  })

  it.each([
    ['ronglian', RONGLIAN, 'RONGLIAN_ACCOUNT_SID', 'not-a-sid'],
    ['ronglian', RONGLIAN, 'RONGLIAN_AUTH_TOKEN', `${RONGLIAN.RONGLIAN_AUTH_TOKEN}\n`],
    ['ronglian', RONGLIAN, 'RONGLIAN_TEMPLATE_ID', 'SMS_1'],
    ['ronglian', RONGLIAN, 'RONGLIAN_BASE_URL', 'app.cloopen.com:8883'],
    ['aliyun', ALIYUN, 'ALIYUN_ACCESS_KEY_SECRET', '"quoted secret"'],
    ['aliyun', ALIYUN, 'ALIYUN_SMS_TEMPLATE_CODE', '154950909'],
    ['aliyun', ALIYUN, 'ALIYUN_SMS_TEMPLATE_PARAMS', 'code,minutes,extra'],
    ['tencent', TENCENT, 'TENCENT_SECRET_ID', 'ABCDz8krbsJ5yKBZQpn74WFkmLPx'],
    ['tencent', TENCENT, 'TENCENT_SMS_SDK_APP_ID', '14000'],
    ['tencent', TENCENT, 'TENCENT_SMS_REGION', 'guangzhou'],
    ['tencent', TENCENT, 'TENCENT_SMS_TEMPLATE_PARAMS', 'minutes'],
    ['twilio', TWILIO, 'TWILIO_ACCOUNT_SID', 'SK0123456789abcdef0123456789abcdef'],
    ['twilio', TWILIO, 'TWILIO_FROM', '15005550006'],
    ['twilio', TWILIO, 'TWILIO_MESSAGE_TEMPLATE', 'no placeholder'],
  ])('%s: names a malformed %s', (provider, complete, variable, value) => {
    const issues = checkSmsProviderEnv([provider as 'ronglian'], { ...complete, [variable]: value })
    expect(issues).toHaveLength(1)
    expect(issues[0]?.variable).toBe(variable)
    expect(issues[0]?.message).toMatch(/^must /)
  })

  it('checks every provider of a failover list', () => {
    const issues = checkSmsProviderEnv(['aliyun', 'tencent'], { ...ALIYUN })
    expect(issues.map((issue) => issue.variable)).toEqual([
      'TENCENT_SECRET_ID',
      'TENCENT_SECRET_KEY',
      'TENCENT_SMS_SDK_APP_ID',
      'TENCENT_SMS_SIGN_NAME',
      'TENCENT_SMS_TEMPLATE_ID',
    ])
  })
})

describe('readSmsProviderSettings', () => {
  it('fills in the documented defaults', () => {
    const settings = readSmsProviderSettings(['ronglian', 'aliyun', 'tencent', 'twilio'], {
      ...RONGLIAN,
      ...ALIYUN,
      ...TENCENT,
      ...TWILIO,
    })
    expect(settings.timeoutMs).toBe(5_000)
    expect(settings.ronglian?.baseUrl).toBe('https://app.cloopen.com:8883')
    expect(settings.aliyun).toMatchObject({
      baseUrl: 'https://dysmsapi.aliyuncs.com',
      templateParams: ['code'],
    })
    expect(settings.tencent).toMatchObject({
      baseUrl: 'https://sms.tencentcloudapi.com',
      region: 'ap-guangzhou',
      templateParams: 'code,minutes',
    })
    expect(settings.twilio).toMatchObject({
      baseUrl: 'https://api.twilio.com',
      template: 'Your verification code is {code}. It expires in {minutes} minutes.',
    })
  })

  it('takes SMS_TIMEOUT_MS and trims a trailing slash off a base URL', () => {
    const settings = readSmsProviderSettings(['ronglian'], {
      ...RONGLIAN,
      RONGLIAN_BASE_URL: 'http://127.0.0.1:9999/',
      SMS_TIMEOUT_MS: '1500',
    })
    expect(settings).toMatchObject({
      timeoutMs: 1_500,
      ronglian: { baseUrl: 'http://127.0.0.1:9999' },
    })
  })

  it('throws naming the variables, without their values', () => {
    expect(() =>
      readSmsProviderSettings(['ronglian'], { ...RONGLIAN, RONGLIAN_AUTH_TOKEN: 'leaked!' }),
    ).toThrow(/RONGLIAN_AUTH_TOKEN: must be/)
    expect(() =>
      readSmsProviderSettings(['ronglian'], { ...RONGLIAN, RONGLIAN_AUTH_TOKEN: 'leaked!' }),
    ).not.toThrow(/leaked/)
  })

  it('spreads every provider variable into an env schema shape', () => {
    const all = Object.values(SMS_PROVIDER_VARIABLES).flat()
    expect(Object.keys(smsEnvShape).sort()).toEqual(['SMS_TIMEOUT_MS', ...all].sort())
  })
})

describe('createConfiguredSender', () => {
  const logger = { info: () => undefined, warn: () => undefined }
  let fake: FakeProvider
  beforeAll(async () => {
    fake = await startFakeRonglian(RONGLIAN_ACCOUNT)
  })
  afterAll(() => fake.close())

  it('gives the console provider by itself when nothing else is chosen', () => {
    expect(createConfiguredSender([], {}, { logger, production: false }).name).toBe('console')
  })

  it('puts the chosen providers behind failover, in order', () => {
    const sender = createConfiguredSender(
      ['tencent', 'aliyun', 'console'],
      { ...ALIYUN, ...TENCENT },
      { logger, production: false },
    )
    expect(sender.name).toBe('tencent,aliyun,console')
  })

  it('sends through the configured provider and its base URL', async () => {
    const sender = createConfiguredSender(
      ['ronglian'],
      { ...RONGLIAN, RONGLIAN_BASE_URL: fake.url },
      { logger, production: true },
    )
    await sender.sendCode(MESSAGE)
    expect(fake.problems).toEqual([])
    expect(fake.requests).toHaveLength(1)
  })

  it('refuses to build a provider with missing settings', () => {
    expect(() => createConfiguredSender(['twilio'], {}, { logger, production: true })).toThrow(
      /TWILIO_ACCOUNT_SID: is required when SMS_PROVIDER includes twilio/,
    )
  })
})
