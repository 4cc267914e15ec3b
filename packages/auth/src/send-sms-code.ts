import { createHash, timingSafeEqual } from 'node:crypto'
import { maskMobile } from '@signup/sms/mask'
import { AuthError } from './ret.ts'
import type { AuthServices } from './ports.ts'
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

/**
 * Steps 3 to 8 of CONTRACT section 1, after the input passed sendSmsCodeInput (steps 1 and 2).
 * Throws AuthError for every refusal. Whatever happens after step 3 the captcha is spent, and a
 * provider failure leaves neither a stored code nor a claimed resend window behind.
 */
export async function sendSmsCode(
  services: AuthServices,
  input: SendSmsCodeParsed,
): Promise<SendSmsCodeResult> {
  const { captchaStore, smsCodeStore, resendWindow, users, sms, random, logger, config } = services
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

  const busy = await resendWindow.claim(mobile, config.smsResendSeconds).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.codeStoreFailed, { cause })
  })
  if (busy)
    throw new AuthError('REQERR', M.tooFrequent, {
      retryAfter: busy.retryAfter,
      field: 'mobile',
    })

  const code = random.int(1_000_000).toString().padStart(6, '0')
  try {
    await smsCodeStore.save(mobile, code, config.smsCodeTtlSeconds)
  } catch (cause) {
    await releaseQuietly(services, mobile)
    throw new AuthError('DBERR', M.codeStoreFailed, { cause })
  }

  try {
    await sms.sendCode({ mobile, code, ttlMinutes: Math.ceil(config.smsCodeTtlSeconds / 60) })
  } catch (cause) {
    logger.warn(
      { mobile: maskMobile(mobile), provider: sms.name, err: describe(cause) },
      'sms provider failed; code and resend window removed',
    )
    // No code without an SMS: undo both, so the user may retry at once with a new captcha.
    await Promise.all([
      smsCodeStore.remove(mobile).catch((error: unknown) => {
        logger.error({ mobile: maskMobile(mobile), err: describe(error) }, 'could not remove code')
      }),
      releaseQuietly(services, mobile),
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

/** Case-insensitive and constant-time: both sides are hashed to equal-length digests first. */
export function captchaMatches(expected: string, given: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text.toLowerCase()).digest()
  return timingSafeEqual(digest(expected), digest(given))
}

async function releaseQuietly(services: AuthServices, mobile: string): Promise<void> {
  try {
    await services.resendWindow.release(mobile)
  } catch (error) {
    // The window then simply runs out by its TTL; the request still answers its own errno.
    services.logger.error(
      { mobile: maskMobile(mobile), err: describe(error) },
      'could not release resend window',
    )
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
