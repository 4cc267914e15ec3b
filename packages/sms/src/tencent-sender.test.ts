import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTencentSender, isRetryableTencentCode, signTc3 } from './tencent-sender.ts'
import { startFakeTencent, tc3Signature } from './testing/fake-tencent.ts'
import type { FakeProvider } from './testing/fake-server.ts'
import { describeProviderContract, MESSAGE } from './testing/provider-contract.ts'

const KEY = {
  secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPxTESTEXAMPLE',
  secretKey: 'Gu5t9xGARNpq86cd98joQYCN3TESTKEY',
  sdkAppId: '1400006666',
}
const TEMPLATE = { signName: '腾讯云', templateId: '449739', region: 'ap-guangzhou' }

/**
 * The worked example of Tencent Cloud's "Signature v3" page: CVM DescribeInstances at
 * 1551113065 with SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE, signing content-type and host.
 */
const PUBLISHED = {
  secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
  timestamp: 1551113065,
  host: 'cvm.tencentcloudapi.com',
  contentType: 'application/json; charset=utf-8',
  payload: String.raw`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`,
  canonicalRequest: [
    'POST',
    '/',
    '',
    'content-type:application/json; charset=utf-8',
    'host:cvm.tencentcloudapi.com',
    '',
    'content-type;host',
    '35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064',
  ].join('\n'),
  stringToSign: [
    'TC3-HMAC-SHA256',
    '1551113065',
    '2019-02-25/cvm/tc3_request',
    '5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031',
  ].join('\n'),
  signature: '72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168',
}

describe('TC3-HMAC-SHA256', () => {
  it("the sender's signer reproduces Tencent's published example", () => {
    const signed = signTc3({
      secretId: 'AKIDEXAMPLE',
      secretKey: PUBLISHED.secretKey,
      service: 'cvm',
      host: PUBLISHED.host,
      path: '/',
      contentType: PUBLISHED.contentType,
      payload: PUBLISHED.payload,
      timestamp: PUBLISHED.timestamp,
    })
    expect(signed.canonicalRequest).toBe(PUBLISHED.canonicalRequest)
    expect(signed.stringToSign).toBe(PUBLISHED.stringToSign)
    expect(signed.authorization).toBe(
      `TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=${PUBLISHED.signature}`,
    )
  })

  it("the fake's verifier reproduces the same example from the request as sent", () => {
    const result = tc3Signature({
      method: 'POST',
      path: '/',
      rawQuery: '',
      headers: { 'Content-Type': PUBLISHED.contentType, Host: PUBLISHED.host },
      payload: PUBLISHED.payload,
      timestamp: PUBLISHED.timestamp,
      date: '2019-02-25',
      service: 'cvm',
      secretKey: PUBLISHED.secretKey,
    })
    expect(result.stringToSign).toBe(PUBLISHED.stringToSign)
    expect(result.signature).toBe(PUBLISHED.signature)
  })

  it('the credential scope date is the UTC date, not the local one', () => {
    // 1551113065 is 2019-02-26 00:44:25 in Beijing: the scope must still say 2019-02-25.
    const signed = signTc3({
      secretId: 'AKIDEXAMPLE',
      secretKey: PUBLISHED.secretKey,
      service: 'sms',
      host: 'sms.tencentcloudapi.com',
      path: '/',
      contentType: PUBLISHED.contentType,
      payload: '{}',
      timestamp: PUBLISHED.timestamp,
    })
    expect(signed.authorization).toContain('/2019-02-25/sms/tc3_request')
  })

  it('retries after frequency limits and internal errors only', () => {
    for (const code of [
      'LimitExceeded.PhoneNumberDailyLimit',
      'RequestLimitExceeded',
      'InternalError.Timeout',
    ]) {
      expect(isRetryableTencentCode(code)).toBe(true)
    }
    for (const code of [
      'FailedOperation.InsufficientBalanceInSmsPackage',
      'InvalidParameterValue.IncorrectPhoneNumber',
      'AuthFailure.SignatureFailure',
      'UnauthorizedOperation.SmsSdkAppIdVerifyFail',
    ]) {
      expect(isRetryableTencentCode(code)).toBe(false)
    }
  })
})

describe('tencent request', () => {
  let fake: FakeProvider
  beforeAll(async () => {
    fake = await startFakeTencent(KEY)
  })
  afterAll(() => fake.close())

  it('signs for service sms whatever the base URL, and sends the +86 number and both parameters', async () => {
    await createTencentSender({ ...KEY, ...TEMPLATE, baseUrl: fake.url }).sendCode(MESSAGE)
    expect(fake.problems).toEqual([])
    const [request] = fake.requests
    expect(request?.headers.authorization).toContain('/sms/tc3_request')
    expect(request?.headers['x-tc-region']).toBe('ap-guangzhou')
    expect(JSON.parse(request?.body ?? '')).toEqual({
      PhoneNumberSet: ['+8613812345678'],
      SmsSdkAppId: KEY.sdkAppId,
      SignName: TEMPLATE.signName,
      TemplateId: TEMPLATE.templateId,
      TemplateParamSet: ['012345', '5'],
    })
  })

  it('sends the code alone to a one-parameter template', async () => {
    fake.requests.length = 0
    await createTencentSender({
      ...KEY,
      ...TEMPLATE,
      templateParams: 'code',
      baseUrl: fake.url,
    }).sendCode(MESSAGE)
    expect(JSON.parse(fake.requests[0]?.body ?? '')).toMatchObject({ TemplateParamSet: ['012345'] })
  })
})

describeProviderContract({
  provider: 'tencent',
  start: () => startFakeTencent(KEY),
  create: (fake, options = {}) =>
    createTencentSender({
      ...KEY,
      secretKey: options.secret ?? KEY.secretKey,
      ...TEMPLATE,
      baseUrl: fake.url,
      ...options,
    }),
  retryableCodes: [
    'LimitExceeded.PhoneNumberThirtySecondLimit',
    'RequestLimitExceeded',
    'InternalError.Timeout',
  ],
  finalCodes: {
    badTemplate: 'FailedOperation.TemplateIncorrectOrUnapproved',
    badNumber: 'InvalidParameterValue.IncorrectPhoneNumber',
    noBalance: 'FailedOperation.InsufficientBalanceInSmsPackage',
  },
})
