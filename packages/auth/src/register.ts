import { createHash, timingSafeEqual } from 'node:crypto'
import { describeError, maskMobile } from '@signup/sms/log-fields'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import type { UserSummary } from '@signup/db/user-directory'
import type { SessionCookie } from '@signup/trpc/context'
import type { AuthServices } from './ports.ts'
import type { RegisterParsed } from './schemas.ts'
import { SMS_CODE_WRONG_MESSAGE } from './schemas.ts'

/** Wrong tries one code survives: the fifth wrong one deletes it. */
export const MAX_SMS_CODE_ATTEMPTS = 5

export const REGISTER_MESSAGES = {
  registered: '注册成功',
  codeStoreFailed: '读取短信验证码失败',
  codeExpired: '短信验证码已失效，请重新获取',
  codeWrong: SMS_CODE_WRONG_MESSAGE,
  tooManyAttempts: '短信验证码错误次数过多，请重新获取',
  mobileTaken: '该手机已被注册',
  userStoreFailed: '保存用户信息失败',
  sessionStoreFailed: '注册成功，但保存登录状态失败，请稍后登录',
} as const

export interface RegisterResult {
  errno: 0
  errmsg: string
  user: UserSummary
}

/** Registers (registerSteps), counting each attempt as a sign-in by `register` for /metrics. */
export function register(
  services: AuthServices,
  input: RegisterParsed,
  cookie: SessionCookie,
): Promise<RegisterResult> {
  return countOutcome(
    (outcome) => services.metrics.signIn('register', outcome),
    () => registerSteps(services, input, cookie),
  )
}

/**
 * The original's register view with the protections it lacked: the code is checked in constant
 * time, at most five times, and consumed by exactly one caller; the password is hashed (never
 * stored or logged as typed); the new user is signed in through the session cookie.
 * Throws AuthError for every refusal. The code is checked before anything reveals whether the
 * mobile is registered, so this call is no oracle for strangers.
 */
async function registerSteps(
  services: AuthServices,
  input: RegisterParsed,
  cookie: SessionCookie,
): Promise<RegisterResult> {
  const { users, passwordHasher, sessions, logger, config } = services
  const { mobile } = input
  const M = REGISTER_MESSAGES

  await checkSmsCode(services, mobile, input.smsCode)

  // Hashed only after a right code: strangers cannot make the server spend CPU on scrypt.
  const passwordHash = await passwordHasher.hash(input.password)
  const created = await users
    .create({ mobile, nickName: mobile, passwordHash })
    .catch((cause: unknown) => {
      throw new AuthError('DBERR', M.userStoreFailed, { cause })
    })
  if (created.kind === 'taken') throw new AuthError('DATAEXIST', M.mobileTaken, { field: 'mobile' })
  const { user } = created
  logger.info({ userId: user.id, mobile: maskMobile(mobile) }, 'user registered')

  const sessionId = await sessions
    .create(user.id, config.sessionTtlSeconds)
    .catch((cause: unknown) => {
      logger.error(
        { userId: user.id, err: describeError(cause) },
        'user registered but the session could not be stored',
      )
      throw new AuthError('DBERR', M.sessionStoreFailed, { cause })
    })
  // A browser signed in as someone else before: that session ends, the new one replaces it.
  if (cookie.id !== null) {
    await sessions.destroy(cookie.id).catch((error: unknown) => {
      logger.warn({ err: describeError(error) }, 'could not end the previous session')
    })
  }
  cookie.set(sessionId, config.sessionTtlSeconds)
  return { errno: 0, errmsg: M.registered, user }
}

/**
 * Checks the code waiting for this mobile and consumes it when right; throws NODATA or DATAERR
 * otherwise. Single-key steps, in an order that holds under any concurrency (decision record
 * 006): the attempt is counted before the comparison, so no code is compared more than
 * MAX_SMS_CODE_ATTEMPTS times, and only the caller whose compare-and-delete removes the code goes
 * on, so a right code admits exactly one registration.
 */
export async function checkSmsCode(
  services: Pick<AuthServices, 'smsCodeStore' | 'config'>,
  mobile: string,
  given: string,
): Promise<void> {
  const { smsCodeStore, config } = services
  const M = REGISTER_MESSAGES
  const storeFailed = (cause: unknown): never => {
    throw new AuthError('DBERR', M.codeStoreFailed, { cause })
  }
  const expired = () => new AuthError('NODATA', M.codeExpired, { field: 'smsCode' })

  // Read before counting: a check racing a resend then counts against the new code, not afresh.
  const expected = await smsCodeStore.peek(mobile).catch(storeFailed)
  if (expected === null) throw expired()
  const attempt = await smsCodeStore
    .countAttempt(mobile, config.smsCodeTtlSeconds)
    .catch(storeFailed)
  if (attempt > MAX_SMS_CODE_ATTEMPTS) {
    // Past the limit nothing is compared; the code goes, if the fifth try has not removed it yet.
    await smsCodeStore.consume(mobile, expected).catch(storeFailed)
    throw expired()
  }
  if (!smsCodeMatches(expected, given)) {
    if (attempt < MAX_SMS_CODE_ATTEMPTS) {
      throw new AuthError('DATAERR', M.codeWrong, { field: 'smsCode' })
    }
    await smsCodeStore.consume(mobile, expected).catch(storeFailed)
    throw new AuthError('DATAERR', M.tooManyAttempts, { field: 'smsCode' })
  }
  // Deletes the code only if it is still the one compared: of concurrent right tries, one wins.
  const consumed = await smsCodeStore.consume(mobile, expected).catch(storeFailed)
  if (!consumed) throw expired()
}

/** Constant time: both sides are hashed to equal-length digests before timingSafeEqual. */
export function smsCodeMatches(expected: string, given: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(expected), digest(given))
}
