import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SessionCookie } from '@signup/trpc/context'

export const SESSION_COOKIE_NAME = 'sid'

/**
 * The session cookie over HTTP headers: the id comes from the request's Cookie header, and set or
 * clear writes the response's Set-Cookie. HttpOnly keeps it from page scripts, SameSite=Lax keeps
 * it off cross-site POSTs, Secure (production, behind TLS) keeps it off plain HTTP.
 */
export function createSessionCookie(
  req: IncomingMessage,
  res: ServerResponse,
  options: { secure: boolean },
): SessionCookie {
  const attributes = `Path=/; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`
  return {
    id: readCookie(req.headers.cookie, SESSION_COOKIE_NAME),
    set(id, maxAgeSeconds) {
      res.setHeader(
        'set-cookie',
        `${SESSION_COOKIE_NAME}=${id}; Max-Age=${maxAgeSeconds}; ${attributes}`,
      )
    },
    clear() {
      res.setHeader('set-cookie', `${SESSION_COOKIE_NAME}=; Max-Age=0; ${attributes}`)
    },
  }
}

/** The first cookie of that name in a Cookie header, or null; an empty value counts as none. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=')
    if (separator === -1 || pair.slice(0, separator).trim() !== name) continue
    const value = pair.slice(separator + 1).trim()
    return value === '' ? null : value
  }
  return null
}
