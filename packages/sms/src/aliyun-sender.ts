import { createHash, createHmac, randomUUID } from 'node:crypto'
import { redactProviderText } from './log-fields.ts'
import {
  DEFAULT_TIMEOUT_MS,
  malformedAnswer,
  parseJsonObject,
  postToProvider,
  stringField,
  trimBaseUrl,
} from './provider-http.ts'
import type { HttpProviderOptions } from './provider-http.ts'
import { SmsSendError } from './sender.ts'
import type { SmsCodeMessage, SmsSender } from './sender.ts'

export const ALIYUN_BASE_URL = 'https://dysmsapi.aliyuncs.com'

export interface AliyunSenderConfig extends HttpProviderOptions {
  accessKeyId: string
  accessKeySecret: string
  /** The approved signature (签名) shown in front of the message. */
  signName: string
  /** The approved template, `SMS_` and digits. */
  templateCode: string
  /** The template's variable names: the first gets the code, the second (if any) the minutes. */
  templateParams?: readonly string[]
  /** Injected for tests; a random 32-hex-digit nonce otherwise. */
  nonce?: () => string
}

/**
 * Aliyun Dysms `SendSms` (API version 2017-05-25), signed with ACS3-HMAC-SHA256 (Aliyun's V3
 * signature). RPC style: the parameters travel in the query string and the body is empty.
 */
export function createAliyunSender(config: AliyunSenderConfig): SmsSender {
  const baseUrl = trimBaseUrl(config.baseUrl ?? ALIYUN_BASE_URL)
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const now = config.now ?? (() => new Date())
  const nonce = config.nonce ?? (() => randomUUID().replaceAll('-', ''))
  const [codeParam = 'code', minutesParam] = config.templateParams ?? []

  return {
    name: 'aliyun',
    async sendCode(message: SmsCodeMessage): Promise<void> {
      const templateParam: Record<string, string> = { [codeParam]: message.code }
      if (minutesParam) templateParam[minutesParam] = String(message.ttlMinutes)
      const url = new URL(`${baseUrl}/`)
      const signed = signAcs3({
        method: 'POST',
        host: url.host,
        path: url.pathname,
        query: {
          PhoneNumbers: message.mobile,
          SignName: config.signName,
          TemplateCode: config.templateCode,
          TemplateParam: JSON.stringify(templateParam),
        },
        body: '',
        action: 'SendSms',
        version: '2017-05-25',
        date: now(),
        nonce: nonce(),
        accessKeyId: config.accessKeyId,
        accessKeySecret: config.accessKeySecret,
      })
      const answer = await postToProvider(
        'aliyun',
        `${url.origin}${url.pathname}?${signed.canonicalQuery}`,
        { headers: { ...signed.headers, accept: 'application/json' }, body: '' },
        { timeoutMs, fetch: config.fetch },
      )

      const json = parseJsonObject(answer.body)
      const code = stringField(json, 'Code')
      if (answer.status >= 200 && answer.status < 300 && code === 'OK') return
      if (!code) throw malformedAnswer('aliyun', answer, message)
      const text = redactProviderText(stringField(json, 'Message'), message)
      throw new SmsSendError('aliyun', `${code}: ${text}`, {
        retryable: answer.status >= 500 || isRetryableAliyunCode(code),
        code,
      })
    },
  }
}

export interface Acs3Request {
  method: string
  host: string
  path: string
  query: Record<string, string>
  body: string
  action: string
  version: string
  date: Date
  nonce: string
  accessKeyId: string
  accessKeySecret: string
}

/**
 * ACS3-HMAC-SHA256: the canonical request (method, path, sorted RFC 3986 query, the signed
 * headers, the body's SHA-256) is hashed, prefixed with the algorithm and HMAC'd with the secret.
 */
export function signAcs3(request: Acs3Request): {
  headers: Record<string, string>
  canonicalQuery: string
  canonicalRequest: string
} {
  const bodyHash = sha256Hex(request.body)
  const headers: Record<string, string> = {
    host: request.host,
    'x-acs-action': request.action,
    'x-acs-content-sha256': bodyHash,
    'x-acs-date': request.date.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-signature-nonce': request.nonce,
    'x-acs-version': request.version,
  }
  const names = Object.keys(headers).sort()
  const canonicalHeaders = names.map((name) => `${name}:${(headers[name] ?? '').trim()}\n`).join('')
  const signedHeaders = names.join(';')
  const canonicalQuery = Object.keys(request.query)
    .sort()
    .map((key) => `${percentEncode(key)}=${percentEncode(request.query[key] ?? '')}`)
    .join('&')
  const canonicalRequest = [
    request.method,
    request.path
      .split('/')
      .map((segment) => percentEncode(decodeURIComponent(segment)))
      .join('/'),
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    bodyHash,
  ].join('\n')
  const signature = createHmac('sha256', request.accessKeySecret)
    .update(`ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`)
    .digest('hex')
  headers.authorization = `ACS3-HMAC-SHA256 Credential=${request.accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`
  // fetch sets Host itself from the URL; it is signed above with the same value.
  delete headers.host
  return { headers, canonicalQuery, canonicalRequest }
}

/** RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are (space is %20, * is %2A). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * Retryable: throttling (Aliyun's flow controls, per mobile or per account) and Aliyun's own
 * errors. Final: bad number, template, signature, parameters, balance, credentials, permissions.
 */
export function isRetryableAliyunCode(code: string): boolean {
  return (
    code.startsWith('Throttling') ||
    (code.startsWith('isp.') && code !== 'isp.RAM_PERMISSION_DENY') ||
    code === 'isv.BUSINESS_LIMIT_CONTROL' ||
    code === 'isv.DAY_LIMIT_CONTROL' ||
    code === 'InternalError' ||
    code === 'ServiceUnavailable'
  )
}
