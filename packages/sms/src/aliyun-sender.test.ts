import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createAliyunSender,
  isRetryableAliyunCode,
  percentEncode,
  signAcs3,
} from './aliyun-sender.ts'
import { acs3Signature, startFakeAliyun } from './testing/fake-aliyun.ts'
import type { FakeProvider } from './testing/fake-server.ts'
import { describeProviderContract, MESSAGE } from './testing/provider-contract.ts'

const KEY = {
  accessKeyId: 'LTAI5tRqBv9xExampleKey01',
  accessKeySecret: 'Zx8wQ3rT6yU9iO2pA5sD8fG1hJ4kL7',
}
const TEMPLATE = { signName: '阿里云短信测试', templateCode: 'SMS_154950909' }

/**
 * The fixed-parameter example of Aliyun's "V3 request structure and signature" page: ECS
 * RunInstances with YourAccessKeyId / YourAccessKeySecret at 2023-10-26T10:22:32Z.
 */
const PUBLISHED = {
  accessKeyId: 'YourAccessKeyId',
  accessKeySecret: 'YourAccessKeySecret',
  nonce: '3156853299f313e23d1673dc12e1703d',
  date: '2023-10-26T10:22:32Z',
  host: 'ecs.cn-shanghai.aliyuncs.com',
  action: 'RunInstances',
  version: '2014-05-26',
  query: {
    ImageId: 'win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd',
    RegionId: 'cn-shanghai',
  },
  canonicalRequest: [
    'POST',
    '/',
    'ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai',
    'host:ecs.cn-shanghai.aliyuncs.com',
    'x-acs-action:RunInstances',
    'x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'x-acs-date:2023-10-26T10:22:32Z',
    'x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d',
    'x-acs-version:2014-05-26',
    '',
    'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version',
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  ].join('\n'),
  authorization:
    'ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0',
}

describe('ACS3-HMAC-SHA256', () => {
  it("the sender's signer reproduces Aliyun's published example", () => {
    const signed = signAcs3({
      method: 'POST',
      host: PUBLISHED.host,
      path: '/',
      query: PUBLISHED.query,
      body: '',
      action: PUBLISHED.action,
      version: PUBLISHED.version,
      date: new Date(PUBLISHED.date),
      nonce: PUBLISHED.nonce,
      accessKeyId: PUBLISHED.accessKeyId,
      accessKeySecret: PUBLISHED.accessKeySecret,
    })
    expect(signed.canonicalRequest).toBe(PUBLISHED.canonicalRequest)
    expect(signed.headers.authorization).toBe(PUBLISHED.authorization)
  })

  it("the fake's verifier reproduces the same example from the request as sent", () => {
    const { canonicalRequest, signature } = acs3Signature({
      method: 'POST',
      path: '/',
      rawQuery: 'RegionId=cn-shanghai&ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd',
      headers: {
        host: PUBLISHED.host,
        'x-acs-action': PUBLISHED.action,
        'x-acs-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-acs-date': PUBLISHED.date,
        'x-acs-signature-nonce': PUBLISHED.nonce,
        'x-acs-version': PUBLISHED.version,
      },
      body: '',
      accessKeySecret: PUBLISHED.accessKeySecret,
    })
    expect(canonicalRequest).toBe(PUBLISHED.canonicalRequest)
    expect(PUBLISHED.authorization.endsWith(`Signature=${signature}`)).toBe(true)
  })

  it('encodes as RFC 3986 requires: space %20, * %2A, ~ kept, UTF-8 bytes', () => {
    expect(percentEncode("a b*c~d!'()")).toBe('a%20b%2Ac~d%21%27%28%29')
    expect(percentEncode('{"code":"1"}')).toBe('%7B%22code%22%3A%221%22%7D')
    expect(percentEncode('签名')).toBe('%E7%AD%BE%E5%90%8D')
  })

  it('retries after flow control and system errors only', () => {
    for (const code of [
      'isv.BUSINESS_LIMIT_CONTROL',
      'isv.DAY_LIMIT_CONTROL',
      'Throttling.User',
      'isp.SYSTEM_ERROR',
    ]) {
      expect(isRetryableAliyunCode(code)).toBe(true)
    }
    for (const code of [
      'isv.MOBILE_NUMBER_ILLEGAL',
      'isv.SMS_TEMPLATE_ILLEGAL',
      'isv.AMOUNT_NOT_ENOUGH',
      'isv.OUT_OF_SERVICE',
      'isp.RAM_PERMISSION_DENY',
      'SignatureDoesNotMatch',
    ]) {
      expect(isRetryableAliyunCode(code)).toBe(false)
    }
  })
})

describe('aliyun request', () => {
  let fake: FakeProvider
  beforeAll(async () => {
    fake = await startFakeAliyun(KEY)
  })
  afterAll(() => fake.close())

  it('sends SendSms with the number, sign name, template and its parameters in the query', async () => {
    await createAliyunSender({ ...KEY, ...TEMPLATE, baseUrl: fake.url }).sendCode(MESSAGE)
    expect(fake.problems).toEqual([])
    const [request] = fake.requests
    expect(request?.body).toBe('')
    expect(Object.fromEntries(request?.query ?? [])).toEqual({
      PhoneNumbers: '13812345678',
      SignName: TEMPLATE.signName,
      TemplateCode: TEMPLATE.templateCode,
      TemplateParam: '{"code":"012345"}',
    })
    expect(request?.rawQuery).not.toContain('+')
  })

  it('names the minutes variable when the template has one', async () => {
    fake.requests.length = 0
    await createAliyunSender({
      ...KEY,
      ...TEMPLATE,
      templateParams: ['otp', 'ttl'],
      baseUrl: fake.url,
    }).sendCode(MESSAGE)
    expect(fake.problems).toEqual([])
    expect(JSON.parse(fake.requests[0]?.query.get('TemplateParam') ?? '')).toEqual({
      otp: '012345',
      ttl: '5',
    })
  })
})

describeProviderContract({
  provider: 'aliyun',
  start: () => startFakeAliyun(KEY),
  create: (fake, options = {}) =>
    createAliyunSender({
      ...KEY,
      accessKeySecret: options.secret ?? KEY.accessKeySecret,
      ...TEMPLATE,
      baseUrl: fake.url,
      ...options,
    }),
  retryableCodes: ['isv.BUSINESS_LIMIT_CONTROL', 'Throttling.User', 'isp.SYSTEM_ERROR'],
  finalCodes: {
    badTemplate: 'isv.SMS_TEMPLATE_ILLEGAL',
    badNumber: 'isv.MOBILE_NUMBER_ILLEGAL',
    noBalance: 'isv.AMOUNT_NOT_ENOUGH',
  },
})
