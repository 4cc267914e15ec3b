import { timingSafeEqual } from 'node:crypto'
import { describeError, maskMobile } from '@signup/sms/log-fields'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import { CAPTCHA_STORE_FAILED } from './issue-image-code.ts'
import type { AuthServices, SendSubject } from './ports.ts'
import type { SendSmsCodeParsed } from './schemas.ts'

export const SEND_SMS_CODE_MESSAGES = {
  sent: '发送成功',
  captchaStoreFailed: CAPTCHA_STORE_FAILED,
  captchaExpired: '验证码已过期',
  captchaWrong: '验证码输入错误',
  userLookupFailed: '数据库查询错误',
  mobileTaken: '该手机已被注册',
  tooFrequent: '请求过于频繁，请稍后再试',
  codeStoreFailed: '保存短信验证码失败',
  smsFailed: '发送短信失败',
} as const

export interface SendSmsCodeResult {
  errno: 0
  errmsg: string
  /** Seconds the code stays valid. */
  expiresIn: number
  /** Seconds until another code may be sent to this mobile. */
  resendIn: number
}

/** What the transport established about the request. */
export interface SendRequestInfo {
  /** The client's address (socket, or the trusted proxy's X-Forwarded-For); null if unknown. */
  clientIp: string | null
}

/** Sends a code (sendSmsCodeSteps), counting how each send ended, by purpose, for /metrics. */
export function sendSmsCode(
  services: AuthServices,
  input: SendSmsCodeParsed,
  request: SendRequestInfo,
): Promise<SendSmsCodeResult> {
  return countOutcome(
    (outcome) => services.metrics.smsSend(input.purpose, outcome),
    () => sendSmsCodeSteps(services, input, request),
  )
}

/**
 * Steps 3 to 8 of docs/contract.md section 1, after the input passed sendSmsCodeInput (steps 1 and 2).
 * Throws AuthError for every refusal. Whatever happens after step 3 the captcha is spent, and a
 * provider failure leaves neither a stored code nor a counted send behind. Step 6 is the layered
 * limits of decision record 010, counted in one step, which stores the code too (step 7).
 *
 * The code is for one purpose (section 9, decision record 015): a register code is refused to a
 * registered mobile (step 5), a login code goes to any mobile, and a reset code is answered the
 * same whether the mobile has an account or not: with none, every step runs but the SMS, and the
 * provider is never waited for, so neither the answer nor its time tells which numbers have one.
 */
async function sendSmsCodeSteps(
  services: AuthServices,
  input: SendSmsCodeParsed,
  request: SendRequestInfo,
): Promise<SendSmsCodeResult> {
  const { captchaStore, sendLimiter, users, random, logger, config } = services
  const { mobile, purpose } = input
  const smsCodeStore = services.smsCodeStore.for(purpose)
  const M = SEND_SMS_CODE_MESSAGES

  const expected = await captchaStore.take(input.imageCodeId).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.captchaStoreFailed, { cause })
  })
  if (expected === null) throw new AuthError('NODATA', M.captchaExpired, { field: 'imageCode' })
  if (!captchaMatches(expected, input.imageCode))
    throw new AuthError('DATAERR', M.captchaWrong, { field: 'imageCode' })

  // A login code goes to any mobile, registered or not: it signs in or makes the account.
  const registered =
    purpose === 'login'
      ? null
      : await users.existsByMobile(mobile).catch((cause: unknown) => {
          throw new AuthError('DBERR', M.userLookupFailed, { cause })
        })
  if (purpose === 'register' && registered) {
    throw new AuthError('DATAEXIST', M.mobileTaken, { field: 'mobile' })
  }

  const testCode = config.testNumbers.get(mobile)
  const subject: SendSubject = {
    mobile,
    purpose,
    clientIp: request.clientIp,
    testNumber: testCode !== undefined,
  }
  const code = testCode ?? random.int(1_000_000).toString().padStart(6, '0')
  // Stored by the step that counts the send, only when it counts: one round trip to one Redis
  // (decision record 021). A code that cannot be stored fails the take, which gives back what it
  // counted: DBERR, as when the limits cannot be counted.
  const saving = smsCodeStore.saving(mobile, code, config.smsCodeTtlSeconds)
  const refused = await sendLimiter.take(subject, saving).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.codeStoreFailed, { cause })
  })
  if (refused) {
    services.metrics.limitRefusal(refused.limit)
    logger.info(
      { mobile: maskMobile(mobile), limit: refused.limit, retryAfter: refused.retryAfter },
      'sms send refused by a limit',
    )
    throw new AuthError('REQERR', M.tooFrequent, {
      retryAfter: refused.retryAfter,
      // Whichever limit refused, the form shows it beside the number it was asked to send to.
      field: 'mobile',
    })
  }

  const sent: SendSmsCodeResult = {
    errno: 0,
    errmsg: M.sent,
    expiresIn: config.smsCodeTtlSeconds,
    resendIn: config.smsResendSeconds,
  }

  if (testCode !== undefined) {
    // A test number costs nothing: its fixed code is stored, no provider is called.
    logger.info(
      { mobile: maskMobile(mobile), purpose, testNumber: true },
      'sms code for a test number',
    )
    return sent
  }

  if (purpose === 'reset') {
    if (registered) {
      // Not waited for: the provider's time, or its failure, would tell that the account exists.
      void deliver(services, subject, code).catch(() => undefined)
    } else {
      logger.info(
        { mobile: maskMobile(mobile), purpose },
        'reset code for a mobile with no account: not sent',
      )
    }
    return sent
  }

  try {
    await deliver(services, subject, code)
  } catch (cause) {
    throw new AuthError('THIRDERR', M.smsFailed, { cause })
  }
  return sent
}

/**
 * Sends the stored code through the provider. When the provider fails, the code is removed and
 * the limits given back before this rejects: no code without an SMS, so the user may retry at
 * once with a new captcha.
 */
async function deliver(services: AuthServices, subject: SendSubject, code: string): Promise<void> {
  const { sms, logger, config } = services
  const { mobile, purpose = 'register' } = subject
  try {
    await sms.sendCode(
      { mobile, code, ttlMinutes: Math.ceil(config.smsCodeTtlSeconds / 60) },
      // The request's logger, so the provider's lines carry the request id too.
      { logger },
    )
  } catch (cause) {
    logger.warn(
      { mobile: maskMobile(mobile), purpose, provider: sms.name, err: describeError(cause) },
      'sms provider failed; code removed and limits given back',
    )
    await Promise.all([
      services.smsCodeStore
        .for(purpose)
        .remove(mobile)
        .catch((error: unknown) => {
          logger.error(
            { mobile: maskMobile(mobile), err: describeError(error) },
            'could not remove code',
          )
        }),
      giveBackQuietly(services, subject),
    ])
    throw cause
  }
}

/**
 * Case-insensitive, and constant-time in the content. Lengths are not secret (every captcha has
 * the same length), so unequal lengths answer false at once.
 */
export function captchaMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected.toLowerCase())
  const b = Buffer.from(given.toLowerCase())
  return a.length === b.length && timingSafeEqual(a, b)
}

async function giveBackQuietly(services: AuthServices, subject: SendSubject): Promise<void> {
  try {
    await services.sendLimiter.giveBack(subject)
  } catch (error) {
    // The counts then simply run out with their windows; the request still answers its own errno.
    services.logger.error(
      { mobile: maskMobile(subject.mobile), err: describeError(error) },
      'could not give back the send limits',
    )
  }
}
