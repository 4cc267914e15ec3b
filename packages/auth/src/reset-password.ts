import { describeError, maskMobile } from '@signup/sms/log-fields'
import type { UserSummary } from '@signup/db/user-directory'
import type { SessionCookie } from '@signup/trpc/context'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import type { AuthServices } from './ports.ts'
import type { ResetPasswordParsed } from './schemas.ts'
import { recordSignIn, startSession } from './session.ts'
import { checkSmsCode, SMS_CODE_CHECK_MESSAGES } from './sms-code-check.ts'

export const RESET_PASSWORD_MESSAGES = {
  reset: '密码已重置',
  ...SMS_CODE_CHECK_MESSAGES,
  userLookupFailed: '数据库查询错误',
  userStoreFailed: '保存用户信息失败',
  sessionsNotEnded: '密码已重置，但未能退出其他登录，请重新获取验证码再试',
  sessionStoreFailed: '密码已重置，但保存登录状态失败，请用新密码登录',
} as const

export interface ResetPasswordResult {
  errno: 0
  errmsg: string
  user: UserSummary
}

/** resetPasswordSteps, counting each attempt as a sign-in by `reset` for /metrics. */
export function resetPassword(
  services: AuthServices,
  input: ResetPasswordParsed,
  cookie: SessionCookie,
): Promise<ResetPasswordResult> {
  return countOutcome(
    (outcome) => services.metrics.signIn('reset', outcome),
    () => resetPasswordSteps(services, input, cookie),
  )
}

/**
 * Sets a new password with a reset code (docs/contract.md section 9): the code is checked by
 * register's rules, the new hash stored, every session of the user ended (on every instance, from
 * the per-user index), the mobile's failed password sign-ins forgotten (decision record 014), and
 * this client signed in with a new session. A mobile with no account can hold a reset code (one
 * is stored, never sent, so the send tells no one which numbers have accounts); its right code
 * answers as an expired one would.
 */
async function resetPasswordSteps(
  services: AuthServices,
  input: ResetPasswordParsed,
  cookie: SessionCookie,
): Promise<ResetPasswordResult> {
  const { users, passwordHasher, sessions, signInLimiter, logger } = services
  const { mobile } = input
  const M = RESET_PASSWORD_MESSAGES

  await checkSmsCode(services, { purpose: 'reset', mobile, smsCode: input.smsCode })

  const found = await users.findCredentials(mobile).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.userLookupFailed, { cause })
  })
  if (!found) throw new AuthError('NODATA', M.codeExpired, { field: 'smsCode' })
  const { user } = found

  const passwordHash = await passwordHasher.hash(input.password)
  // The hash first, then the sweep: a sign-in with the old password that the sweep misses sees
  // the new hash when it confirms (login.ts), so the old password never outlives the reset.
  const stored = await users.setPasswordHash(user.id, passwordHash).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.userStoreFailed, { cause })
  })
  if (!stored) throw new AuthError('NODATA', M.codeExpired, { field: 'smsCode' })
  await sessions.destroyAllOf(user.id).catch((cause: unknown) => {
    logger.error(
      { userId: user.id, err: describeError(cause) },
      'password reset but the sessions could not be ended',
    )
    throw new AuthError('DBERR', M.sessionsNotEnded, { cause })
  })
  logger.info({ userId: user.id, mobile: maskMobile(mobile) }, 'password reset; sessions ended')

  // The owner proved to hold the phone: guesses at the old password no longer count against it.
  await signInLimiter.clearMobile(mobile).catch((error: unknown) => {
    logger.warn({ err: describeError(error) }, 'could not clear the failed sign-in count')
  })
  await recordSignIn(services, user.id)
  await startSession(services, user.id, cookie, M.sessionStoreFailed)
  return { errno: 0, errmsg: M.reset, user }
}
