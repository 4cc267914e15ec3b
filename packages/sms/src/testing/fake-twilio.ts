import { header, startFakeProvider } from './fake-server.ts'
import type { FakeProvider, ReceivedRequest } from './fake-server.ts'

export interface FakeTwilioOptions {
  accountSid: string
  authToken: string
}

/**
 * Twilio's Messages API, checking each request as Twilio does: Basic auth of AccountSid and
 * Auth Token, the account in the path, a form-encoded body with an E.164 To, a From (or a
 * Messaging Service) and a Body.
 */
export function startFakeTwilio(options: FakeTwilioOptions): Promise<FakeProvider> {
  return startFakeProvider({
    check: (request) => checkTwilioRequest(request, options),
    refuse: (problems) => {
      const auth = problems.some((problem) => problem.startsWith('auth'))
      return twilioError(auth ? 401 : 400, auth ? '20003' : '21604', problems[0] ?? '')
    },
    answer(behaviour, request) {
      const form = new URLSearchParams(request.body)
      if (behaviour.kind === 'error') {
        const status = behaviour.status ?? (behaviour.code === '20429' ? 429 : 400)
        const text = behaviour.message ?? TWILIO_MESSAGES[behaviour.code] ?? 'error'
        return twilioError(status, behaviour.code, text)
      }
      return {
        status: 201,
        body: JSON.stringify({
          sid: 'SM1f0e8ae6ade43cb3c0ce4525424e404f',
          account_sid: options.accountSid,
          to: form.get('To'),
          from: form.get('From'),
          messaging_service_sid: form.get('MessagingServiceSid'),
          body: form.get('Body'),
          status: 'queued',
          num_segments: '1',
          error_code: null,
          error_message: null,
        }),
      }
    },
  })
}

export const TWILIO_MESSAGES: Record<string, string> = {
  '20429': 'Too Many Requests',
  '21211': "The 'To' number is not a valid phone number.",
  '21614': "'To' number is not a valid mobile number",
  '20005': 'Account not active',
  '20003': 'Authenticate',
}

function twilioError(status: number, code: string, message: string) {
  return {
    status,
    body: JSON.stringify({
      code: Number(code),
      message,
      more_info: `https://www.twilio.com/docs/errors/${code}`,
      status,
    }),
  }
}

/** user and password from a Basic Authorization header (RFC 7617), or undefined. */
export function decodeBasic(value: string): { user: string; password: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(value)
  if (!match?.[1]) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) return undefined
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

export function checkTwilioRequest(request: ReceivedRequest, options: FakeTwilioOptions): string[] {
  const problems: string[] = []
  const credentials = decodeBasic(header(request, 'authorization'))
  if (credentials?.user !== options.accountSid || credentials.password !== options.authToken) {
    problems.push('auth: Basic credentials do not match the account')
  }
  if (request.method !== 'POST') problems.push(`method ${request.method}, expected POST`)
  const expectedPath = `/2010-04-01/Accounts/${options.accountSid}/Messages.json`
  if (request.path !== expectedPath) problems.push(`path ${request.path}, expected ${expectedPath}`)
  if (!header(request, 'content-type').startsWith('application/x-www-form-urlencoded')) {
    problems.push('content-type is not application/x-www-form-urlencoded')
  }
  const form = new URLSearchParams(request.body)
  if (!/^\+[1-9]\d{6,14}$/.test(form.get('To') ?? '')) problems.push('To is not E.164')
  if (!form.get('From') && !form.get('MessagingServiceSid')) {
    problems.push('neither From nor MessagingServiceSid')
  }
  if (!form.get('Body')) problems.push('Body is missing')
  return problems
}
