import { createHash, createHmac } from 'node:crypto'
import { header, isStringArray, startFakeProvider } from './fake-server.ts'
import { parseJsonObject } from '../provider-http.ts'
import type { FakeProvider, ReceivedRequest } from './fake-server.ts'

export interface FakeTencentOptions {
  secretId: string
  secretKey: string
  sdkAppId: string
  now?: () => Date
}

/**
 * Tencent Cloud SMS SendSms (2021-01-11), checking each request as Tencent's API gateway does:
 * the TC3-HMAC-SHA256 signature recomputed over the signed headers and the body, service `sms`
 * in the credential scope, its date matching X-TC-Timestamp (within 5 minutes of now), the
 * action, version and region headers, and the SendSms fields.
 */
export function startFakeTencent(options: FakeTencentOptions): Promise<FakeProvider> {
  return startFakeProvider({
    check: (request) => checkTencentRequest(request, options),
    refuse: (problems) => ({
      status: 200,
      body: JSON.stringify({
        Response: {
          Error: {
            Code: problems.some((problem) => problem.startsWith('signature'))
              ? 'AuthFailure.SignatureFailure'
              : 'InvalidParameter',
            Message: problems[0],
          },
          RequestId: 'fake-request',
        },
      }),
    }),
    answer(behaviour, request) {
      const phone =
        (parseJsonObject(request.body)?.PhoneNumberSet as string[] | undefined)?.[0] ?? ''
      if (behaviour.kind === 'error') {
        const text = behaviour.message ?? TENCENT_MESSAGES[behaviour.code] ?? 'error'
        // Request-level refusals come as Response.Error; per-number ones in SendStatusSet.
        const requestLevel =
          /^(AuthFailure|RequestLimitExceeded|UnauthorizedOperation|InternalError)/
        const body = requestLevel.test(behaviour.code)
          ? { Error: { Code: behaviour.code, Message: text }, RequestId: 'fake-request' }
          : {
              SendStatusSet: [
                { SerialNo: '', PhoneNumber: phone, Fee: 0, Code: behaviour.code, Message: text },
              ],
              RequestId: 'fake-request',
            }
        return { status: behaviour.status ?? 200, body: JSON.stringify({ Response: body }) }
      }
      return {
        status: 200,
        body: JSON.stringify({
          Response: {
            SendStatusSet: [
              {
                SerialNo: '5000:1045710669157053657849499619',
                PhoneNumber: phone,
                Fee: 1,
                SessionContext: '',
                Code: 'Ok',
                Message: 'send success',
                IsoCode: 'CN',
              },
            ],
            RequestId: 'fake-request',
          },
        }),
      }
    },
  })
}

export const TENCENT_MESSAGES: Record<string, string> = {
  'LimitExceeded.PhoneNumberThirtySecondLimit': '单个手机号30秒内下发短信条数超过设定的上限',
  RequestLimitExceeded: '请求的次数超过了频率限制',
  'FailedOperation.TemplateIncorrectOrUnapproved': '模板未审批或内容不合规',
  'InvalidParameterValue.IncorrectPhoneNumber': '手机号格式错误',
  'FailedOperation.InsufficientBalanceInSmsPackage': '套餐包余量不足',
  'InternalError.Timeout': '请求下发短信超时',
}

export function checkTencentRequest(
  request: ReceivedRequest,
  options: FakeTencentOptions,
): string[] {
  const problems: string[] = []
  if (request.method !== 'POST') problems.push(`method ${request.method}, expected POST`)
  if (request.path !== '/') problems.push(`path ${request.path}, expected /`)
  if (header(request, 'content-type') !== 'application/json; charset=utf-8') {
    problems.push(`content-type ${header(request, 'content-type')}`)
  }
  if (header(request, 'x-tc-action') !== 'SendSms') problems.push('X-TC-Action is not SendSms')
  if (header(request, 'x-tc-version') !== '2021-01-11') {
    problems.push('X-TC-Version is not 2021-01-11')
  }
  if (!/^[a-z]{2}-[a-z]+$/.test(header(request, 'x-tc-region'))) {
    problems.push('X-TC-Region is missing')
  }
  const timestamp = Number(header(request, 'x-tc-timestamp'))
  const nowSeconds = (options.now?.() ?? new Date()).getTime() / 1000
  if (!Number.isInteger(timestamp) || Math.abs(timestamp - nowSeconds) > 300) {
    problems.push('signature: X-TC-Timestamp is missing or more than 5 minutes off')
  }

  const match =
    /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      header(request, 'authorization'),
    )
  if (!match) {
    problems.push('signature: Authorization is not TC3-HMAC-SHA256')
  } else {
    const [, secretId, date = '', service = '', signedHeaders = '', signature] = match
    if (secretId !== options.secretId) problems.push('signature: unknown SecretId')
    if (service !== 'sms')
      problems.push(`signature: credential scope service is ${service}, not sms`)
    if (
      Number.isInteger(timestamp) &&
      date !== new Date(timestamp * 1000).toISOString().slice(0, 10)
    ) {
      problems.push('signature: credential scope date is not the UTC date of X-TC-Timestamp')
    }
    const signed = signedHeaders.split(';')
    if (!signed.includes('content-type') || !signed.includes('host')) {
      problems.push('signature: content-type and host must be signed')
    }
    const expected = tc3Signature({
      method: request.method,
      path: request.path,
      rawQuery: request.rawQuery,
      headers: Object.fromEntries(signed.map((name) => [name, header(request, name)])),
      payload: request.body,
      timestamp,
      date,
      service,
      secretKey: options.secretKey,
    })
    if (expected.signature !== signature) problems.push('signature does not match')
  }

  const body = parseJsonObject(request.body)
  if (!body) return [...problems, 'body is not a JSON object']
  const phones = body.PhoneNumberSet
  if (!isStringArray(phones) || phones.length !== 1 || !/^\+861[3-9]\d{9}$/.test(phones[0] ?? '')) {
    problems.push('PhoneNumberSet is not one +86 mobile')
  }
  if (body.SmsSdkAppId !== options.sdkAppId) problems.push('SmsSdkAppId does not match')
  if (typeof body.SignName !== 'string' || !body.SignName) problems.push('SignName is missing')
  if (typeof body.TemplateId !== 'string' || !/^\d+$/.test(body.TemplateId)) {
    problems.push('TemplateId is not a numeric string')
  }
  if (!isStringArray(body.TemplateParamSet)) problems.push('TemplateParamSet is not strings')
  return problems
}

/**
 * The signature Tencent expects, from the received request, as its "Signature v3" page says
 * (independent of the sender's signer).
 */
export function tc3Signature(request: {
  method: string
  path: string
  rawQuery: string
  headers: Record<string, string>
  payload: string
  timestamp: number
  date: string
  service: string
  secretKey: string
}): { canonicalRequest: string; stringToSign: string; signature: string } {
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]),
  )
  const names = Object.keys(headers).sort()
  const canonicalHeaders = names
    .map((name) => `${name}:${(headers[name] ?? '').trim().toLowerCase()}\n`)
    .join('')
  const canonicalRequest = [
    request.method,
    request.path,
    request.rawQuery,
    canonicalHeaders,
    names.join(';'),
    createHash('sha256').update(request.payload).digest('hex'),
  ].join('\n')
  const stringToSign = [
    'TC3-HMAC-SHA256',
    String(request.timestamp),
    `${request.date}/${request.service}/tc3_request`,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n')
  const mac = (key: string | Buffer, text: string) =>
    createHmac('sha256', key).update(text).digest()
  const key = mac(mac(mac(`TC3${request.secretKey}`, request.date), request.service), 'tc3_request')
  return {
    canonicalRequest,
    stringToSign,
    signature: createHmac('sha256', key).update(stringToSign).digest('hex'),
  }
}
