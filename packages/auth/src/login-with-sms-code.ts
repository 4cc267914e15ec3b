import { maskMobile } from '@signup/sms/log-fields'
import type { UserSummary } from '@signup/db/user-directory'
import type { SessionCookie } from '@signup/trpc/context'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import type { AuthServices } from './ports.ts'
import type { LoginWithSmsCodeParsed } from './schemas.ts'
import { recordSignIn, startSession } from './session.ts'
import { checkSmsCode, SMS_CODE_CHECK_MESSAGES } from './sms-code-check.ts'

export const LOGIN_WITH_SMS_CODE_MESSAGES = {
  signedIn: '登录成功',
  ...SMS_CODE_CHECK_MESSAGES,
  userStoreFailed: '保存用户信息失败',
  sessionStoreFailed: '登录失败：保存登录状态失败，请稍后再试',
} as const

export interface LoginWithSmsCodeResult {
  errno: 0
  errmsg: string
  user: UserSummary
  /** This call made the account (nick_name = the mobile, no password). */
  created: boolean
}

/** loginWithSmsCodeSteps, counting each attempt as a sign-in by `sms-code` for /metrics. */
export function loginWithSmsCode(
  services: AuthServices,
  input: LoginWithSmsCodeParsed,
  cookie: SessionCookie,
): Promise<LoginWithSmsCodeResult> {
  return countOutcome(
    (outcome) => services.metrics.signIn('sms-code', outcome),
    () => loginWithSmsCodeSteps(services, input, cookie),
  )
}

/**
 * Sign-in by SMS code, which signs up a mobile that has no account (验证码登录/注册,
 * docs/contract.md section 9). The login code is checked by register's rules (5 wrong tries, then
 * it is gone; the right one consumed in the step that checks it), so of concurrent sign-ins with
 * the right code exactly one goes on: a new mobile gets one account and one `created: true`. An
 * account made meanwhile by register is found and signed in instead.
 */
async function loginWithSmsCodeSteps(
  services: AuthServices,
  input: LoginWithSmsCodeParsed,
  cookie: SessionCookie,
): Promise<LoginWithSmsCodeResult> {
  const { users, logger } = services
  const { mobile } = input
  const M = LOGIN_WITH_SMS_CODE_MESSAGES
  const storeFailed = (cause: unknown): never => {
    throw new AuthError('DBERR', M.userStoreFailed, { cause })
  }

  await checkSmsCode(services, { purpose: 'login', mobile, smsCode: input.smsCode })

  let user: UserSummary
  let created = false
  const existing = await users.findCredentials(mobile).catch(storeFailed)
  if (existing) {
    user = existing.user
    await recordSignIn(services, user.id)
  } else {
    const made = await users
      .create({ mobile, nickName: mobile, passwordHash: null, lastLoginAt: new Date() })
      .catch(storeFailed)
    if (made.kind === 'created') {
      user = made.user
      created = true
      logger.info({ userId: user.id, mobile: maskMobile(mobile) }, 'user registered by sms code')
    } else {
      // Registered between the lookup and the insert (register, on any instance): sign that in.
      const found = await users.findCredentials(mobile).catch(storeFailed)
      if (!found) throw new AuthError('DBERR', M.userStoreFailed)
      user = found.user
      await recordSignIn(services, user.id)
    }
  }

  await startSession(services, user.id, cookie, M.sessionStoreFailed)
  logger.info({ userId: user.id, mobile: maskMobile(mobile), created }, 'signed in by sms code')
  return { errno: 0, errmsg: M.signedIn, user, created }
}
