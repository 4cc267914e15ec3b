import { createHash } from 'node:crypto'
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

export const RONGLIAN_BASE_URL = 'https://app.cloopen.com:8883'

export interface RonglianSenderConfig extends HttpProviderOptions {
  accountSid: string
  authToken: string
  appId: string
  /** The approved template; its two parameters are the code and its lifetime in minutes. */
  templateId: string
}

/**
 * Ronglian Cloud (容联云, the original's CCP) template SMS over its REST API. There is no official
 * Node SDK; this is the documented exchange: an MD5 `sig` in the query, `accountSid:timestamp`
 * in base64 as Authorization, and `{to, appId, templateId, datas}` as the JSON body.
 */
export function createRonglianSender(config: RonglianSenderConfig): SmsSender {
  const baseUrl = trimBaseUrl(config.baseUrl ?? RONGLIAN_BASE_URL)
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const now = config.now ?? (() => new Date())

  return {
    name: 'ronglian',
    async sendCode(message: SmsCodeMessage): Promise<void> {
      const timestamp = ronglianTimestamp(now())
      const sig = ronglianSig(config.accountSid, config.authToken, timestamp)
      const url = `${baseUrl}/2013-12-26/Accounts/${encodeURIComponent(config.accountSid)}/SMS/TemplateSMS?sig=${sig}`
      const answer = await postToProvider(
        'ronglian',
        url,
        {
          headers: {
            accept: 'application/json',
            'content-type': 'application/json;charset=utf-8',
            authorization: ronglianAuthorization(config.accountSid, timestamp),
          },
          body: JSON.stringify({
            to: message.mobile,
            appId: config.appId,
            templateId: config.templateId,
            datas: [message.code, String(message.ttlMinutes)],
          }),
        },
        { timeoutMs, fetch: config.fetch },
      )

      const json = parseJsonObject(answer.body)
      const statusCode = stringField(json, 'statusCode')
      if (answer.status >= 200 && answer.status < 300 && statusCode === '000000') return
      if (!statusCode) throw malformedAnswer('ronglian', answer, message)
      const text = redactProviderText(stringField(json, 'statusMsg'), message)
      throw new SmsSendError('ronglian', `statusCode ${statusCode}: ${text}`, {
        retryable: answer.status >= 500 || isRetryableRonglianCode(statusCode),
        code: statusCode,
      })
    },
  }
}

/** yyyyMMddHHmmss in Beijing time: Ronglian checks it against its own (UTC+8) clock. */
export function ronglianTimestamp(date: Date): string {
  const beijing = new Date(date.getTime() + 8 * 3_600_000)
  const pad = (value: number) => String(value).padStart(2, '0')
  return (
    String(beijing.getUTCFullYear()) +
    pad(beijing.getUTCMonth() + 1) +
    pad(beijing.getUTCDate()) +
    pad(beijing.getUTCHours()) +
    pad(beijing.getUTCMinutes()) +
    pad(beijing.getUTCSeconds())
  )
}

/** Upper-case hex MD5 of accountSid + authToken + timestamp. */
export function ronglianSig(accountSid: string, authToken: string, timestamp: string): string {
  return createHash('md5')
    .update(accountSid + authToken + timestamp)
    .digest('hex')
    .toUpperCase()
}

export function ronglianAuthorization(accountSid: string, timestamp: string): string {
  return Buffer.from(`${accountSid}:${timestamp}`).toString('base64')
}

/**
 * Ronglian's codes that another provider may succeed after: its internal errors and busy
 * channels, and every frequency or daily limit. Everything else (bad number, template, balance,
 * credentials) would fail anywhere or needs an operator.
 */
const RETRYABLE_RONGLIAN_CODES = new Set([
  '160000', // system error
  '160015', // per-number send count limit
  '160016', // channel rate limit
  '160021', // same content to the same mobile once a day
  '160022', // daily limit for one mobile
  '160038', // verification codes sent too often
  '160039', // daily limit for one template and mobile
  '160040', // daily verification-code limit for one template and mobile
  '160041', // daily notification limit for one template and mobile
  '160050', // sending failed
  '112314', // daily send limit
  '112326', // sending failed
])

export function isRetryableRonglianCode(code: string): boolean {
  const number = Number(code)
  // 111001-111099: internal errors; 160001-160010: channel busy.
  if ((number >= 111_001 && number <= 111_099) || (number >= 160_001 && number <= 160_010)) {
    return true
  }
  return RETRYABLE_RONGLIAN_CODES.has(code)
}
