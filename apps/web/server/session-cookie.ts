import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SessionCookie } from '@signup/trpc/context'

/**
 * The session cookie's name. Production's carries the `__Host-` prefix: a browser keeps such a
 * cookie only when this host set it, Secure, with Path=/ and no Domain, so a related subdomain
 * cannot plant one that is read first. Development serves plain HTTP, where a browser refuses a
 * Secure cookie, so it keeps `sid`.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-sid' : 'sid'
}

/**
 * The session cookie over HTTP headers: the id comes from the request's Cookie header, and set or
 * clear writes the response's Set-Cookie. HttpOnly keeps it from page scripts, SameSite=Lax keeps
 * it off cross-site POSTs, Secure (production, behind TLS) keeps it off plain HTTP. Only the
 * cookie of this mode's name is read: a `sid` sent to production is no session.
 */
export function createSessionCookie(
  req: IncomingMessage,
  res: ServerResponse,
  options: { secure: boolean },
): SessionCookie {
  const name = sessionCookieName(options.secure)
  const attributes = `Path=/; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`
  return {
    id: readCookie(req.headers.cookie, name),
    set(id, maxAgeSeconds) {
      res.setHeader('set-cookie', `${name}=${id}; Max-Age=${maxAgeSeconds}; ${attributes}`)
    },
    clear() {
      res.setHeader('set-cookie', `${name}=; Max-Age=0; ${attributes}`)
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
