import { describeError, maskMobile } from '@signup/sms/log-fields'
import type { UserCredentials, UserSummary } from '@signup/db/user-directory'
import type { SessionCookie } from '@signup/trpc/context'
import { RET_MESSAGE } from '@signup/trpc/ret'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import type { AuthServices, SignInSubject } from './ports.ts'
import type { LoginParsed } from './schemas.ts'
import { recordSignIn, startSession } from './session.ts'

export const LOGIN_MESSAGES = {
  signedIn: '登录成功',
  wrongCredentials: '手机号或密码错误',
  tooManyFailures: RET_MESSAGE.REQERR,
  limitFailed: '读取登录限制失败',
  userLookupFailed: '数据库查询错误',
  sessionStoreFailed: '登录失败：保存登录状态失败，请稍后再试',
} as const

export interface LoginResult {
  errno: 0
  errmsg: string
  user: UserSummary
}

/** What the transport established about the request. */
export interface LoginRequestInfo {
  /** The client's address (socket, or the trusted proxy's X-Forwarded-For); null if unknown. */
  clientIp: string | null
  session: SessionCookie
}

/** loginSteps, counting each attempt as a sign-in by `password` for /metrics. */
export function login(
  services: AuthServices,
  input: LoginParsed,
  request: LoginRequestInfo,
): Promise<LoginResult> {
  return countOutcome(
    (outcome) => services.metrics.signIn('password', outcome),
    () => loginSteps(services, input, request),
  )
}

/**
 * Password sign-in (docs/contract.md section 9, decision record 014). The sign-in is counted
 * against the per-mobile and per-IP limits before anything is checked, and given back unless the
 * password was wrong, so only failures stay counted; past a limit the answer is REQERR and the
 * password is not checked. An unknown mobile, an account without a password and a wrong password
 * all answer LOGINERR, after the same scrypt work (the verifier's decoy stands in for the missing
 * hash), so neither the answer nor its time tells which numbers have accounts.
 */
async function loginSteps(
  services: AuthServices,
  input: LoginParsed,
  request: LoginRequestInfo,
): Promise<LoginResult> {
  const { signInLimiter, users, passwordVerifier, logger } = services
  const { mobile } = input
  const M = LOGIN_MESSAGES
  const subject: SignInSubject = { mobile, clientIp: request.clientIp }

  const refused = await signInLimiter.take(subject).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.limitFailed, { cause })
  })
  if (refused) {
    services.metrics.limitRefusal(refused.limit)
    logger.info(
      { mobile: maskMobile(mobile), limit: refused.limit, retryAfter: refused.retryAfter },
      'password sign-in refused by a limit',
    )
    throw new AuthError('REQERR', M.tooManyFailures, {
      retryAfter: refused.retryAfter,
      field: 'mobile',
    })
  }

  /** Anything but a wrong password is no failure: the count taken above goes back. */
  const notAFailure = async (): Promise<void> => {
    await signInLimiter.giveBack(subject).catch((error: unknown) => {
      logger.warn({ err: describeError(error) }, 'could not give back a sign-in count')
    })
  }

  let credentials: UserCredentials | null
  try {
    credentials = await users.findCredentials(mobile)
  } catch (cause) {
    await notAFailure()
    throw new AuthError('DBERR', M.userLookupFailed, { cause })
  }
  const stored = credentials?.passwordHash ?? null
  let matches: boolean
  try {
    // The same work whether or not there is a hash to check: the decoy costs what a real one does.
    matches = await passwordVerifier.verify(input.password, stored ?? passwordVerifier.decoyHash)
  } catch (error) {
    await notAFailure()
    throw error
  }
  if (!credentials || stored === null || !matches) {
    logger.info({ mobile: maskMobile(mobile) }, 'password sign-in failed')
    throw new AuthError('LOGINERR', M.wrongCredentials)
  }
  await notAFailure()

  const { user } = credentials
  await recordSignIn(services, user.id)
  await startSession(services, user.id, request.session, M.sessionStoreFailed, () =>
    confirmPasswordUnchanged(services, mobile, stored),
  )
  logger.info({ userId: user.id, mobile: maskMobile(mobile) }, 'signed in by password')
  return { errno: 0, errmsg: M.signedIn, user }
}

/**
 * A password reset that lands while this sign-in checks the old password ends every session it
 * finds, but this one may be stored just after its sweep. So once the session is stored the hash
 * is read again: either the reset's sweep saw the session, or this read sees the new hash and
 * the sign-in is refused (its session then ends). The old password never outlives a reset.
 */
async function confirmPasswordUnchanged(
  services: Pick<AuthServices, 'users' | 'logger'>,
  mobile: string,
  checked: string,
): Promise<void> {
  const now = await services.users.findCredentials(mobile).catch((cause: unknown) => {
    throw new AuthError('DBERR', LOGIN_MESSAGES.userLookupFailed, { cause })
  })
  if (now?.passwordHash === checked) return
  services.logger.warn({ mobile: maskMobile(mobile) }, 'password changed during a sign-in')
  throw new AuthError('LOGINERR', LOGIN_MESSAGES.wrongCredentials)
}
