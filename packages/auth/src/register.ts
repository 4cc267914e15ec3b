import { maskMobile } from '@signup/sms/log-fields'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import type { UserSummary } from '@signup/db/user-directory'
import type { SessionCookie } from '@signup/trpc/context'
import type { AuthServices } from './ports.ts'
import type { RegisterParsed } from './schemas.ts'
import { startSession } from './session.ts'
import { checkSmsCode, SMS_CODE_CHECK_MESSAGES } from './sms-code-check.ts'

export { MAX_SMS_CODE_ATTEMPTS } from './sms-code-check.ts'

export const REGISTER_MESSAGES = {
  registered: '注册成功',
  ...SMS_CODE_CHECK_MESSAGES,
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
 * stored or logged as typed); the new user is signed in through the session cookie, which is a
 * sign-in like any other (last_login_at). Throws AuthError for every refusal. The code is checked
 * before anything reveals whether the mobile is registered, so this call is no oracle for
 * strangers.
 */
async function registerSteps(
  services: AuthServices,
  input: RegisterParsed,
  cookie: SessionCookie,
): Promise<RegisterResult> {
  const { users, passwordHasher, logger } = services
  const { mobile } = input
  const M = REGISTER_MESSAGES

  await checkSmsCode(services, { purpose: 'register', mobile, smsCode: input.smsCode })

  // Hashed only after a right code: strangers cannot make the server spend CPU on scrypt.
  const passwordHash = await passwordHasher.hash(input.password)
  const created = await users
    .create({ mobile, nickName: mobile, passwordHash, lastLoginAt: new Date() })
    .catch((cause: unknown) => {
      throw new AuthError('DBERR', M.userStoreFailed, { cause })
    })
  if (created.kind === 'taken') throw new AuthError('DATAEXIST', M.mobileTaken, { field: 'mobile' })
  const { user } = created
  logger.info({ userId: user.id, mobile: maskMobile(mobile) }, 'user registered')

  await startSession(services, user.id, cookie, M.sessionStoreFailed)
  return { errno: 0, errmsg: M.registered, user }
}
