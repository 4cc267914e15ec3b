import { AuthError } from './auth-error.ts'
import type { UserSummary } from '@signup/db/user-directory'
import type { SessionCookie } from '@signup/trpc/context'
import type { AuthServices } from './ports.ts'

export const SESSION_MESSAGES = {
  loggedOut: '已退出登录',
  sessionStoreFailed: '读取登录状态失败',
  userLookupFailed: '数据库查询错误',
  logoutFailed: '退出登录失败',
} as const

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
