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

export const TWILIO_BASE_URL = 'https://api.twilio.com'
export const TWILIO_DEFAULT_TEMPLATE =
  'Your verification code is {code}. It expires in {minutes} minutes.'

export interface TwilioSenderConfig extends HttpProviderOptions {
  accountSid: string
  authToken: string
  /** An E.164 sender number, or a Messaging Service SID (MG...). */
  from: string
  /** The message text; {code} and {minutes} are replaced. */
  template?: string
}

/** Twilio Programmable Messaging: POST .../Messages.json, Basic auth, form-encoded body. */
export function createTwilioSender(config: TwilioSenderConfig): SmsSender {
  const baseUrl = trimBaseUrl(config.baseUrl ?? TWILIO_BASE_URL)
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const template = config.template ?? TWILIO_DEFAULT_TEMPLATE
  const url = `${baseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`
  const authorization = basicAuthorization(config.accountSid, config.authToken)

  return {
    name: 'twilio',
    async sendCode(message: SmsCodeMessage): Promise<void> {
      const form = new URLSearchParams({ To: toE164(message.mobile) })
      form.set(config.from.startsWith('MG') ? 'MessagingServiceSid' : 'From', config.from)
      form.set(
        'Body',
        template
          .replaceAll('{code}', message.code)
          .replaceAll('{minutes}', String(message.ttlMinutes)),
      )
      const answer = await postToProvider(
        'twilio',
        url,
        {
          headers: {
            authorization,
            accept: 'application/json',
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: form.toString(),
        },
        { timeoutMs, fetch: config.fetch },
      )

      const json = parseJsonObject(answer.body)
      if (answer.status >= 200 && answer.status < 300) {
        if (stringField(json, 'sid')) return
        throw malformedAnswer('twilio', answer, message)
      }
      const code = stringField(json, 'code')
      if (!code) throw malformedAnswer('twilio', answer, message)
      const text = redactProviderText(stringField(json, 'message'), message)
      throw new SmsSendError('twilio', `HTTP ${answer.status}, error ${code}: ${text}`, {
        retryable: isRetryableTwilioAnswer(answer.status, code),
        code,
      })
    },
  }
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

/**
 * Retryable: Twilio's 5xx and 429 (20429 Too Many Requests). Final: every other 4xx, e.g. 21211
 * invalid To, 21614 not a mobile, 21408 region not enabled, 21606 bad From, 20003 auth, 20005
 * account not active (suspended or out of funds).
 */
export function isRetryableTwilioAnswer(status: number, code: string): boolean {
  return status >= 500 || status === 429 || code === '20429'
}
