import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIP, isIPv4, isIPv6 } from 'node:net'

/** The legacy routes' body limit (docs/contract.md section 3). */
export const MAX_BODY_BYTES = 16 * 1024

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError'
}

/** Beyond this, a refused body is not drained but the connection closed after the answer. */
export const MAX_DRAIN_BYTES = 8 * 1024 * 1024

/**
 * Reads the request body up to `limit` bytes. A declared or actual larger body rejects at once
 * without buffering the rest; the rest is read and discarded (so the client, still writing, gets
 * the 413 instead of a broken pipe) unless it is declared larger than MAX_DRAIN_BYTES.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) {
    if (declared <= MAX_DRAIN_BYTES) req.resume()
    return Promise.reject(new BodyTooLargeError())
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        req.resume()
        reject(new BodyTooLargeError())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onError = (error: Error): void => {
      cleanup()
      reject(error)
    }
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(payload)
}

/** `application/json`, with or without parameters such as charset. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false
  return header.split(';')[0]?.trim().toLowerCase() === 'application/json'
}

/**
 * Same-origin or explicitly allowed. A request without Origin is not from a browser page (or is a
 * same-origin GET), so it passes; a browser always sends Origin on a cross-site POST. Same-origin
 * means scheme, host and port all equal the server's own origin: the Host header, and the scheme
 * it is served on (X-Forwarded-Proto from a trusted proxy, else the socket's). An ALLOWED_ORIGINS
 * entry matches the same way. `ws://`, `foo://` or `null` of the same host is another origin.
 */
export function isAllowedOrigin(
  req: IncomingMessage,
  allowed: readonly string[],
  trustProxy = false,
): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return true
  const given = originOf(origin)
  if (given === null) return false
  if (allowed.some((entry) => originOf(entry) === given)) return true
  return given === ownOrigin(req, trustProxy)
}

/** `scheme://host[:port]` as URL serialises it (default ports dropped), or null if not one. */
function originOf(text: string): string | null {
  try {
    const url = new URL(text)
    // Only an origin: no user info, path, query or fragment, and a scheme with an origin.
    const bare = !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash
    if (url.origin === 'null' || !bare || text.endsWith('#') || text.endsWith('?')) return null
    return url.origin
  } catch {
    return null
  }
}

/** The origin this request was addressed to, or null when its Host is not a plain host[:port]. */
export function ownOrigin(req: IncomingMessage, trustProxy: boolean): string | null {
  const host = req.headers.host
  if (host === undefined || !isPlainHost(host)) return null
  const forwarded = trustProxy
    ? String(req.headers['x-forwarded-proto'] ?? '')
        .split(',')
        .at(-1)
        ?.trim()
        .toLowerCase()
    : undefined
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true
  const scheme =
    forwarded === 'https' || forwarded === 'http' ? forwarded : encrypted ? 'https' : 'http'
  return originOf(`${scheme}://${host.toLowerCase()}`)
}

/**
 * A Host value as HTTP clients send it: a name or IPv4 address (letters, digits, `.`, `-`, `_`)
 * or an IPv6 address in brackets, with an optional port up to 65535. No user info, path, query,
 * fragment or anything else a URL parser would read as one of them.
 */
export function isPlainHost(host: string): boolean {
  const match = /^(?:[A-Za-z0-9._-]+|\[([0-9A-Fa-f:.]+)\])(?::(\d{1,5}))?$/.exec(host)
  if (!match) return false
  const [, ipv6, port] = match
  return (ipv6 === undefined || isIPv6(ipv6)) && (port === undefined || Number(port) <= 65_535)
}

/**
 * The request names its host once, plainly: one Host line holding a plain host (RFC 9112 section
 * 3.2 answers anything else with 400). An HTTP/1.0 request may have none; Node refuses an
 * HTTP/1.1 request without one before it gets here.
 */
export function hasPlainHost(req: IncomingMessage): boolean {
  const { host } = req.headers
  if (host === undefined) return true
  let lines = 0
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.length === 4 && req.rawHeaders[i]?.toLowerCase() === 'host') lines++
  }
  return lines === 1 && isPlainHost(host)
}

/**
 * The request target as a URL, when it is a path (origin form, `/…`); null for any other form
 * (`*`, `http://host/…`, `host:port`). Read as a path even when it starts with `//` or `/\`,
 * which a URL parser would otherwise take for another host.
 */
export function targetUrl(target: string | undefined): URL | null {
  if (target === undefined || !target.startsWith('/')) return null
  try {
    return new URL(`http://localhost${target}`)
  } catch {
    return null
  }
}

/**
 * A browser's word that another site (or a sibling subdomain) made this request: a link, form,
 * image or script of its page (`Sec-Fetch-Site`). Absent from non-browser clients and from
 * browsers too old to send it; `none` is the user's own doing (typed, bookmarked).
 */
export function isCrossSiteFetch(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site']
  return site === 'cross-site' || site === 'same-site'
}

/**
 * The client's address: the socket's, or with TRUST_PROXY the one the nearest proxy appended (the
 * last X-Forwarded-For entry). Proxies write that entry as a plain address, or with a port
 * (`1.2.3.4:5678`, `[2001:db8::1]:443`); anything else (`unknown`, an obfuscated RFC 7239 name,
 * garbage) falls back to the socket's address and is reported through `onUnusable`, so a per-IP
 * limit always has an address to count (docs/contract.md section 10).
 */
export function clientIpOf(
  req: IncomingMessage,
  trustProxy: boolean,
  onUnusable: (entry: string) => void = () => undefined,
): string | null {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for']
    const list = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
      .split(',')
      .map((part) => part.trim())
    const last = list.at(-1)
    if (last) {
      const address = forwardedAddress(last)
      if (address !== null) return address
      onUnusable(last)
    } else if (forwarded !== undefined) {
      onUnusable(list.join(','))
    }
  }
  return req.socket.remoteAddress ?? null
}

/** The address in one X-Forwarded-For entry, without its port or brackets; null if none. */
export function forwardedAddress(entry: string): string | null {
  const text = entry.trim().replace(/^"(.*)"$/, '$1')
  if (isIP(text)) return text
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text)
  if (bracketed?.[1] && isIPv6(bracketed[1])) return bracketed[1]
  const withPort = /^([\d.]+):\d{1,5}$/.exec(text)
  if (withPort?.[1] && isIPv4(withPort[1])) return withPort[1]
  return null
}

/** A caller's id is kept when it is short and plain, so a log line cannot be forged through it. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The request's id for logs and the X-Request-Id answer: the caller's if sane, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID()
}
