import { createHash, createHmac } from 'node:crypto'
import { redactProviderText } from './log-fields.ts'
import {
  DEFAULT_TIMEOUT_MS,
  malformedAnswer,
  parseJsonObject,
  postToProvider,
  stringField,
  toE164,
  trimBaseUrl,
} from './provider-http.ts'
import type { HttpProviderOptions } from './provider-http.ts'
import { SmsSendError } from './sender.ts'
import type { SmsCodeMessage, SmsSender } from './sender.ts'

export const TENCENT_BASE_URL = 'https://sms.tencentcloudapi.com'
const CONTENT_TYPE = 'application/json; charset=utf-8'

export interface TencentSenderConfig extends HttpProviderOptions {
  secretId: string
  secretKey: string
  /** The SMS application's SdkAppId (10 digits, 1400...). */
  sdkAppId: string
  /** The approved signature (签名) content. */
  signName: string
  templateId: string
  /** ap-guangzhou, ap-beijing or ap-nanjing. */
  region: string
  /** What the template's {1}, {2} receive: the code, and the minutes unless the template has one. */
  templateParams?: 'code,minutes' | 'code'
}

/**
 * Tencent Cloud SMS `SendSms` (API version 2021-01-11) signed with TC3-HMAC-SHA256. The service
 * in the credential scope is always `sms`, whatever host the base URL names (the official SDK
 * derives it from the host, which breaks any other base URL).
 */
export function createTencentSender(config: TencentSenderConfig): SmsSender {
  const baseUrl = trimBaseUrl(config.baseUrl ?? TENCENT_BASE_URL)
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const now = config.now ?? (() => new Date())
  const withMinutes = (config.templateParams ?? 'code,minutes') === 'code,minutes'

  return {
    name: 'tencent',
    async sendCode(message: SmsCodeMessage): Promise<void> {
      const url = new URL(`${baseUrl}/`)
      const body = JSON.stringify({
        PhoneNumberSet: [toE164(message.mobile)],
        SmsSdkAppId: config.sdkAppId,
        SignName: config.signName,
        TemplateId: config.templateId,
        TemplateParamSet: withMinutes ? [message.code, String(message.ttlMinutes)] : [message.code],
      })
      const timestamp = Math.floor(now().getTime() / 1000)
      const authorization = signTc3({
        secretId: config.secretId,
        secretKey: config.secretKey,
        service: 'sms',
        host: url.host,
        path: url.pathname,
        contentType: CONTENT_TYPE,
        payload: body,
        timestamp,
      }).authorization
      const answer = await postToProvider(
        'tencent',
        url.toString(),
        {
          headers: {
            authorization,
            'content-type': CONTENT_TYPE,
            'x-tc-action': 'SendSms',
            'x-tc-version': '2021-01-11',
            'x-tc-timestamp': String(timestamp),
            'x-tc-region': config.region,
          },
          body,
        },
        { timeoutMs, fetch: config.fetch },
      )

      const response = parseJsonObject(answer.body)?.Response
      const envelope =
        typeof response === 'object' && response !== null
          ? (response as Record<string, unknown>)
          : undefined
      if (!envelope) throw malformedAnswer('tencent', answer, message)
      // Request-level failures (credentials, throttling of the API itself) come as Response.Error.
      const error = envelope.Error
      if (typeof error === 'object' && error !== null) {
        throw tencentError(answer.status, error as Record<string, unknown>, message)
      }
      const statusSet: unknown = envelope.SendStatusSet
      const status: unknown = Array.isArray(statusSet) ? (statusSet as unknown[])[0] : undefined
      if (typeof status !== 'object' || status === null) {
        throw malformedAnswer('tencent', answer, message)
      }
      const result = status as Record<string, unknown>
      if (answer.status >= 200 && answer.status < 300 && stringField(result, 'Code') === 'Ok') {
        return
      }
      throw tencentError(answer.status, result, message)
    },
  }
}

function tencentError(
  httpStatus: number,
  error: Record<string, unknown>,
  message: SmsCodeMessage,
): SmsSendError {
  const code = stringField(error, 'Code') || `http-${httpStatus}`
  const text = redactProviderText(stringField(error, 'Message'), message)
  return new SmsSendError('tencent', `${code}: ${text}`, {
    retryable: httpStatus >= 500 || isRetryableTencentCode(code),
    code,
  })
}

export interface Tc3Request {
  secretId: string
  secretKey: string
  service: string
  host: string
  path: string
  contentType: string
  payload: string
  /** Unix seconds; also gives the UTC date of the credential scope. */
  timestamp: number
}

/**
 * TC3-HMAC-SHA256 as documented: canonical request over content-type and host, string to sign
 * with the credential scope date/service/tc3_request, key derived by HMAC chain from "TC3"+key.
 */
export function signTc3(request: Tc3Request): {
  authorization: string
  canonicalRequest: string
  stringToSign: string
  signature: string
} {
  const date = new Date(request.timestamp * 1000).toISOString().slice(0, 10)
  const signedHeaders = 'content-type;host'
  const canonicalRequest = [
    'POST',
    request.path,
    '',
    `content-type:${request.contentType.toLowerCase()}\nhost:${request.host.toLowerCase()}\n`,
    signedHeaders,
    sha256Hex(request.payload),
  ].join('\n')
  const scope = `${date}/${request.service}/tc3_request`
  const stringToSign = [
    'TC3-HMAC-SHA256',
    String(request.timestamp),
    scope,
    sha256Hex(canonicalRequest),
  ].join('\n')
  const secretDate = hmac(`TC3${request.secretKey}`, date)
  const secretService = hmac(secretDate, request.service)
  const secretSigning = hmac(secretService, 'tc3_request')
  const signature = createHmac('sha256', secretSigning).update(stringToSign).digest('hex')
  return {
    authorization: `TC3-HMAC-SHA256 Credential=${request.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    canonicalRequest,
    stringToSign,
    signature,
  }
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest()
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * Retryable: every LimitExceeded.* (per-mobile and per-app frequency limits), the API's own
 * RequestLimitExceeded, and Tencent's internal errors. Final: FailedOperation.* (balance,
 * template, signature, blacklist), InvalidParameter*, AuthFailure.*, UnauthorizedOperation.*.
 */
export function isRetryableTencentCode(code: string): boolean {
  return (
    code.startsWith('LimitExceeded') ||
    code.startsWith('RequestLimitExceeded') ||
    code.startsWith('InternalError') ||
    code === 'ResourceUnavailable' ||
    code === 'ServiceUnavailable'
  )
}
