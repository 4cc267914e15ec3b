import { createHash, createHmac } from 'node:crypto'
import { header, startFakeProvider } from './fake-server.ts'
import { parseJsonObject } from '../provider-http.ts'
import type { FakeProvider, ReceivedRequest } from './fake-server.ts'

export interface FakeAliyunOptions {
  accessKeyId: string
  accessKeySecret: string
  now?: () => Date
}

/**
 * Aliyun Dysms SendSms, checking each request as Aliyun's gateway does: the ACS3-HMAC-SHA256
 * signature recomputed from what arrived (method, path, query re-sorted and re-encoded, the
 * signed headers, the body hash), the date within 15 minutes, a nonce used once, the action and
 * version, and the SendSms parameters.
 */
export function startFakeAliyun(options: FakeAliyunOptions): Promise<FakeProvider> {
  const nonces = new Set<string>()
  return startFakeProvider({
    check: (request) => checkAliyunRequest(request, options, nonces),
    refuse: (problems) => ({
      status: problems.some((problem) => problem.startsWith('signature')) ? 400 : 200,
      body: JSON.stringify({
        RequestId: 'FAKE-REQUEST',
        Code: problems.some((problem) => problem.startsWith('signature'))
          ? 'SignatureDoesNotMatch'
          : 'isv.INVALID_PARAMETERS',
        Message: problems[0],
      }),
    }),
    answer(behaviour) {
      if (behaviour.kind === 'error') {
        return {
          status: behaviour.status ?? (behaviour.code.startsWith('Throttling') ? 400 : 200),
          body: JSON.stringify({
            RequestId: 'FAKE-REQUEST',
            Code: behaviour.code,
            Message: behaviour.message ?? ALIYUN_MESSAGES[behaviour.code] ?? 'error',
          }),
        }
      }
      return {
        status: 200,
        body: JSON.stringify({
          RequestId: 'FAKE-REQUEST',
          Code: 'OK',
          Message: 'OK',
          BizId: '900619746936498440^0',
        }),
      }
    },
  })
}

export const ALIYUN_MESSAGES: Record<string, string> = {
  'isv.BUSINESS_LIMIT_CONTROL': '触发号码天级流控Permits:10',
  'Throttling.User': 'Request was denied due to user flow control.',
  'isv.SMS_TEMPLATE_ILLEGAL': '该账号下找不到对应模板',
  'isv.MOBILE_NUMBER_ILLEGAL': '非法手机号',
  'isv.AMOUNT_NOT_ENOUGH': '账户余额不足',
  'isp.SYSTEM_ERROR': '系统错误',
}

export function checkAliyunRequest(
  request: ReceivedRequest,
  options: FakeAliyunOptions,
  nonces = new Set<string>(),
): string[] {
  const problems: string[] = []
  if (request.method !== 'POST') problems.push(`method ${request.method}, expected POST`)
  if (request.path !== '/') problems.push(`path ${request.path}, expected /`)
  if (header(request, 'x-acs-action') !== 'SendSms') problems.push('x-acs-action is not SendSms')
  if (header(request, 'x-acs-version') !== '2017-05-25') {
    problems.push('x-acs-version is not 2017-05-25')
  }
  const date = header(request, 'x-acs-date')
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(date)) {
    problems.push(`x-acs-date ${JSON.stringify(date)} is not ISO 8601 UTC`)
  } else if (Math.abs(Date.parse(date) - (options.now?.() ?? new Date()).getTime()) > 15 * 60_000) {
    problems.push('x-acs-date is more than 15 minutes off')
  }
  const nonce = header(request, 'x-acs-signature-nonce')
  if (!nonce) problems.push('x-acs-signature-nonce is missing')
  else if (nonces.has(nonce)) problems.push('x-acs-signature-nonce was used before')
  else nonces.add(nonce)
  if (header(request, 'x-acs-content-sha256') !== sha256Hex(request.body)) {
    problems.push('x-acs-content-sha256 is not the SHA-256 of the body')
  }

  const match =
    /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(
      header(request, 'authorization'),
    )
  if (!match) {
    problems.push('signature: Authorization is not ACS3-HMAC-SHA256')
  } else {
    const [, accessKeyId, signedHeaders = '', signature] = match
    if (accessKeyId !== options.accessKeyId) problems.push('signature: unknown AccessKey ID')
    const signed = signedHeaders.split(';')
    const acsHeaders = Object.keys(request.headers).filter((name) => name.startsWith('x-acs-'))
    for (const name of ['host', ...acsHeaders]) {
      if (!signed.includes(name)) problems.push(`signature: ${name} is not signed`)
    }
    const expected = acs3Signature({
      method: request.method,
      path: request.path,
      rawQuery: request.rawQuery,
      headers: Object.fromEntries(signed.map((name) => [name, header(request, name)])),
      body: request.body,
      accessKeySecret: options.accessKeySecret,
    })
    if (expected.signature !== signature) problems.push('signature does not match')
  }

  const phone = request.query.get('PhoneNumbers') ?? ''
  if (!/^1[3-9]\d{9}$/.test(phone)) problems.push(`PhoneNumbers ${phone} is not a mainland mobile`)
  if (!request.query.get('SignName')) problems.push('SignName is missing')
  if (!/^SMS_\d+$/.test(request.query.get('TemplateCode') ?? '')) {
    problems.push('TemplateCode is not SMS_<digits>')
  }
  const params = parseJsonObject(request.query.get('TemplateParam') ?? '')
  if (!params || !Object.values(params).every((value) => typeof value === 'string')) {
    problems.push('TemplateParam is not a JSON object of strings')
  }
  return problems
}

/**
 * The signature Aliyun expects, recomputed from a received request as its documentation says
 * (written separately from the sender's signer, so a shared mistake cannot pass unnoticed).
 */
export function acs3Signature(request: {
  method: string
  path: string
  rawQuery: string
  headers: Record<string, string>
  body: string
  accessKeySecret: string
}): { canonicalRequest: string; signature: string } {
  const query = request.rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=')
      const key = decodeURIComponent(at === -1 ? pair : pair.slice(0, at))
      const value = at === -1 ? '' : decodeURIComponent(pair.slice(at + 1))
      return [rfc3986(key), rfc3986(value)] as const
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&')
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]),
  )
  const names = Object.keys(headers).sort()
  const canonicalHeaders = names.map((name) => `${name}:${(headers[name] ?? '').trim()}\n`).join('')
  const canonicalRequest = [
    request.method.toUpperCase(),
    request.path,
    query,
    canonicalHeaders,
    names.join(';'),
    sha256Hex(request.body),
  ].join('\n')
  const signature = createHmac('sha256', request.accessKeySecret)
    .update(`ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`)
    .digest('hex')
  return { canonicalRequest, signature }
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
