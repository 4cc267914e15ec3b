import { createHash, timingSafeEqual } from 'node:crypto'
import { describeError, maskMobile } from '@signup/sms/log-fields'
import { RET_MESSAGE } from '@signup/trpc/ret'
import { AuthError } from './auth-error.ts'
import type { AuthServices, SmsCodePurpose } from './ports.ts'
import { SMS_CODE_WRONG_MESSAGE } from './schemas.ts'

/** Wrong tries one code survives: the fifth wrong one deletes it. */
export const MAX_SMS_CODE_ATTEMPTS = 5

export const SMS_CODE_CHECK_MESSAGES = {
  codeStoreFailed: '读取短信验证码失败',
  codeExpired: '短信验证码已失效，请重新获取',
  codeWrong: SMS_CODE_WRONG_MESSAGE,
  tooManyAttempts: '短信验证码错误次数过多，请重新获取',
  tooManyWrongCodes: RET_MESSAGE.REQERR,
} as const

/** Which code is checked: the one sent for this purpose to this mobile. */
export interface SmsCodeCheck {
  purpose: SmsCodePurpose
  mobile: string
  smsCode: string
}

/**
 * Checks the code waiting for this purpose and mobile and consumes it when right; throws NODATA,
 * DATAERR or REQERR otherwise. Single-key steps, in an order that holds under any concurrency
 * (decision record 006): the attempt is counted before the comparison, so no code is compared
 * more than MAX_SMS_CODE_ATTEMPTS times, and only the caller whose compare-and-delete removes the
 * code goes on, so a right code admits exactly one caller. A code of one purpose is never read
 * for another (decision record 015). Wrong codes are also counted per mobile across codes and
 * purposes (the daily wrong-code limit, decision record 014), so new codes buy no more guesses.
 */
export async function checkSmsCode(
  services: Pick<AuthServices, 'smsCodeStore' | 'codeGuessLimiter' | 'config' | 'logger'>,
  check: SmsCodeCheck,
): Promise<void> {
  const { codeGuessLimiter, logger } = services
  const { mobile } = check
  const M = SMS_CODE_CHECK_MESSAGES

  // Counted before anything is compared, so concurrent guesses cannot pass the daily limit.
  const refused = await codeGuessLimiter.take(mobile).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.codeStoreFailed, { cause })
  })
  if (refused) {
    logger.info(
      { mobile: maskMobile(mobile), limit: refused.limit, retryAfter: refused.retryAfter },
      'sms code check refused by a limit',
    )
    throw new AuthError('REQERR', M.tooManyWrongCodes, {
      retryAfter: refused.retryAfter,
      field: 'smsCode',
    })
  }
  const giveBack = () =>
    codeGuessLimiter.giveBack(mobile).catch((error: unknown) => {
      logger.warn({ err: describeError(error) }, 'could not give back a wrong-code count')
    })
  try {
    await compareAndConsume(services, check)
  } catch (error) {
    // Only a wrong code (DATAERR) stays counted: no code, an expired one or a failure goes back.
    if (!(error instanceof AuthError && error.ret === 'DATAERR')) await giveBack()
    throw error
  }
  await giveBack()
}

/**
 * Decision record 006's check, on the purpose's own code: read it, count the attempt, compare in
 * constant time, and consume it by compare-and-delete. Throws NODATA, or DATAERR for a wrong code.
 * What is read and compared is the sealed form (decision record 017): the given code is sealed
 * the same way, so the digits are never in Redis to compare against.
 */
async function compareAndConsume(
  services: Pick<AuthServices, 'smsCodeStore' | 'config'>,
  check: SmsCodeCheck,
): Promise<void> {
  const { mobile, smsCode: given } = check
  const store = services.smsCodeStore.for(check.purpose)
  const M = SMS_CODE_CHECK_MESSAGES
  const storeFailed = (cause: unknown): never => {
    throw new AuthError('DBERR', M.codeStoreFailed, { cause })
  }
  const expired = () => new AuthError('NODATA', M.codeExpired, { field: 'smsCode' })

  // Read before counting: a check racing a resend then counts against the new code, not afresh.
  const expected = await store.peek(mobile).catch(storeFailed)
  if (expected === null) throw expired()
  const attempt = await store
    .countAttempt(mobile, services.config.smsCodeTtlSeconds)
    .catch(storeFailed)
  // Past the limit nothing is compared. The code is left to the fifth try, which removes it
  // whether right or wrong: removing it here too would let a sixth concurrent try take it from a
  // right one among the first five, and none of them would sign in.
  if (attempt > MAX_SMS_CODE_ATTEMPTS) throw expired()
  if (!smsCodeMatches(expected, store.seal(mobile, given))) {
    if (attempt < MAX_SMS_CODE_ATTEMPTS) {
      throw new AuthError('DATAERR', M.codeWrong, { field: 'smsCode' })
    }
    await store.consume(mobile, expected).catch(storeFailed)
    throw new AuthError('DATAERR', M.tooManyAttempts, { field: 'smsCode' })
  }
  // Deletes the code only if it is still the one compared: of concurrent right tries, one wins.
  const consumed = await store.consume(mobile, expected).catch(storeFailed)
  if (!consumed) throw expired()
}

/** Constant time: both sides are hashed to equal-length digests before timingSafeEqual. */
export function smsCodeMatches(expected: string, given: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(expected), digest(given))
}
