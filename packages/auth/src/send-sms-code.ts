import { timingSafeEqual } from 'node:crypto'
import { describeError, maskMobile } from '@signup/sms/log-fields'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import type { AuthServices, SendSubject } from './ports.ts'
import type { SendSmsCodeParsed } from './schemas.ts'

export const SEND_SMS_CODE_MESSAGES = {
  sent: '发送成功',
  captchaStoreFailed: '获取图片验证码失败',
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

/** Sends a register code (sendSmsCodeSteps), counting how each send ended for /metrics. */
export function sendSmsCode(
  services: AuthServices,
  input: SendSmsCodeParsed,
  request: SendRequestInfo,
): Promise<SendSmsCodeResult> {
  return countOutcome(
    (outcome) => services.metrics.smsSend('register', outcome),
    () => sendSmsCodeSteps(services, input, request),
  )
}

/**
 * Steps 3 to 8 of docs/contract.md section 1, after the input passed sendSmsCodeInput (steps 1 and 2).
 * Throws AuthError for every refusal. Whatever happens after step 3 the captcha is spent, and a
 * provider failure leaves neither a stored code nor a counted send behind. Step 6 is the layered
 * limits of decision record 010, counted in one step.
 */
async function sendSmsCodeSteps(
  services: AuthServices,
  input: SendSmsCodeParsed,
  request: SendRequestInfo,
): Promise<SendSmsCodeResult> {
  const { captchaStore, smsCodeStore, sendLimiter, users, sms, random, logger, config } = services
  const { mobile } = input
  const M = SEND_SMS_CODE_MESSAGES

  const expected = await captchaStore.take(input.imageCodeId).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.captchaStoreFailed, { cause })
  })
  if (expected === null) throw new AuthError('NODATA', M.captchaExpired, { field: 'imageCode' })
  if (!captchaMatches(expected, input.imageCode))
    throw new AuthError('DATAERR', M.captchaWrong, { field: 'imageCode' })

  const taken = await users.existsByMobile(mobile).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.userLookupFailed, { cause })
  })
  if (taken) throw new AuthError('DATAEXIST', M.mobileTaken, { field: 'mobile' })

  const testCode = config.testNumbers.get(mobile)
  const subject: SendSubject = {
    mobile,
    clientIp: request.clientIp,
    testNumber: testCode !== undefined,
  }
  const refused = await sendLimiter.take(subject).catch((cause: unknown) => {
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

  const code = testCode ?? random.int(1_000_000).toString().padStart(6, '0')
  try {
    await smsCodeStore.save(mobile, code, config.smsCodeTtlSeconds)
  } catch (cause) {
    await giveBackQuietly(services, subject)
    throw new AuthError('DBERR', M.codeStoreFailed, { cause })
  }

  if (testCode !== undefined) {
    // A test number costs nothing: its fixed code is stored for register, no provider is called.
    logger.info({ mobile: maskMobile(mobile), testNumber: true }, 'sms code for a test number')
    return {
      errno: 0,
      errmsg: M.sent,
      expiresIn: config.smsCodeTtlSeconds,
      resendIn: config.smsResendSeconds,
    }
  }

  try {
    await sms.sendCode(
      { mobile, code, ttlMinutes: Math.ceil(config.smsCodeTtlSeconds / 60) },
      // The request's logger, so the provider's lines carry the request id too.
      { logger },
    )
  } catch (cause) {
    logger.warn(
      { mobile: maskMobile(mobile), provider: sms.name, err: describeError(cause) },
      'sms provider failed; code removed and limits given back',
    )
    // No code without an SMS: undo both, so the user may retry at once with a new captcha.
    await Promise.all([
      smsCodeStore.remove(mobile).catch((error: unknown) => {
        logger.error(
          { mobile: maskMobile(mobile), err: describeError(error) },
          'could not remove code',
        )
      }),
      giveBackQuietly(services, subject),
    ])
    throw new AuthError('THIRDERR', M.smsFailed, { cause })
  }

  return {
    errno: 0,
    errmsg: M.sent,
    expiresIn: config.smsCodeTtlSeconds,
    resendIn: config.smsResendSeconds,
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
