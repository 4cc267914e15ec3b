import { describeError } from '@signup/sms/log-fields'
import { AuthError } from './auth-error.ts'
import type { UserSummary } from '@signup/db/user-directory'
import type { SessionCookie } from '@signup/trpc/context'
import type { AuthServices } from './ports.ts'

export const SESSION_MESSAGES = {
  loggedOut: '已退出登录',
  sessionStoreFailed: '读取登录状态失败',
  userLookupFailed: '数据库查询错误',
  logoutFailed: '退出登录失败',
  signInNotRecorded: '保存登录信息失败',
} as const

/**
 * Signs the user in on this client: a new session in the store and its id in the cookie. A
 * session the browser had before (someone else's, or an old one) ends, so one browser holds one.
 * When the session cannot be stored the answer is DBERR with `failedMessage`, and the cookie is
 * left as it was. `confirm` runs once the session is stored and before the cookie is set; if it
 * throws, the new session ends and its error is the answer.
 */
export async function startSession(
  services: Pick<AuthServices, 'sessions' | 'config' | 'logger'>,
  userId: number,
  cookie: SessionCookie,
  failedMessage: string,
  confirm?: () => Promise<void>,
): Promise<void> {
  const { sessions, config, logger } = services
  const sessionId = await sessions
    .create(userId, config.sessionTtlSeconds)
    .catch((cause: unknown) => {
      logger.error({ userId, err: describeError(cause) }, 'the session could not be stored')
      throw new AuthError('DBERR', failedMessage, { cause })
    })
  if (confirm) {
    try {
      await confirm()
    } catch (error) {
      await sessions.destroy(sessionId).catch((cause: unknown) => {
        logger.error({ userId, err: describeError(cause) }, 'could not end an unconfirmed session')
      })
      throw error
    }
  }
  if (cookie.id !== null) {
    await sessions.destroy(cookie.id).catch((error: unknown) => {
      logger.warn({ err: describeError(error) }, 'could not end the previous session')
    })
  }
  cookie.set(sessionId, config.sessionTtlSeconds)
}

/** Records a sign-in of an existing user (users.last_login_at); DBERR when it cannot be. */
export async function recordSignIn(
  services: Pick<AuthServices, 'users'>,
  userId: number,
): Promise<void> {
  await services.users.recordSignIn(userId, new Date()).catch((cause: unknown) => {
    throw new AuthError('DBERR', SESSION_MESSAGES.signInNotRecorded, { cause })
  })
}

/** The signed-in user, or null; a cookie naming no live session or user is cleared. */
export async function currentUser(
  services: Pick<AuthServices, 'sessions' | 'users'>,
  cookie: SessionCookie,
): Promise<UserSummary | null> {
  const { sessions, users } = services
  const M = SESSION_MESSAGES
  if (cookie.id === null) return null
  const session = await sessions.find(cookie.id).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.sessionStoreFailed, { cause })
  })
  if (session === null) {
    cookie.clear()
    return null
  }
  const user = await users.findById(session.userId).catch((cause: unknown) => {
    throw new AuthError('DBERR', M.userLookupFailed, { cause })
  })
  if (user === null) {
    // The account is gone: so is its session, or the cookie would be looked up on every request.
    await sessions.destroy(cookie.id).catch(() => undefined)
    cookie.clear()
  }
  return user
}

/**
 * Ends the session in the store and clears the cookie. The cookie is cleared even when the store
 * fails (DBERR), so this browser is signed out whatever happens.
 */
export async function logout(
  services: Pick<AuthServices, 'sessions'>,
  cookie: SessionCookie,
): Promise<{ errno: 0; errmsg: string }> {
  const { id } = cookie
  cookie.clear()
  if (id !== null) {
    await services.sessions.destroy(id).catch((cause: unknown) => {
      throw new AuthError('DBERR', SESSION_MESSAGES.logoutFailed, { cause })
    })
  }
  return { errno: 0, errmsg: SESSION_MESSAGES.loggedOut }
}
