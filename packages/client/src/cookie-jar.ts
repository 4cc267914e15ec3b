import type { FetchLike } from './client.ts'

/**
 * The cookies one server has set, sent back with every later request, as a browser keeps them:
 * lets a Node caller register and then call `auth.me` or `auth.logout` as that user. A browser
 * keeps its own cookies (the httpOnly session cookie is never readable there), so browsers do not
 * need it.
 */
export interface CookieJar {
  /** A fetch that sends the jar's cookies and keeps what each answer sets or clears. */
  readonly fetch: FetchLike
  /** The `Cookie` header value: `name=value` pairs joined by `; `, empty when there are none. */
  header(): string
  /** The value of one cookie, or undefined. */
  get(name: string): string | undefined
  /** Takes one `Set-Cookie` header value: stores the pair, or removes it when it expires now. */
  store(setCookie: string): void
}

/**
 * A jar for one server (Domain and Path are not looked at). `cookies` seeds it with a `Cookie`
 * header value, e.g. one saved from an earlier `header()`.
 */
export function createCookieJar(options: { cookies?: string; fetch?: FetchLike } = {}): CookieJar {
  const jar = new Map<string, string>()
  for (const pair of (options.cookies ?? '').split(';')) {
    const [name, value] = splitPair(pair)
    if (name) jar.set(name, value)
  }
  const baseFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))

  const store = (setCookie: string): void => {
    const [pair = '', ...attributes] = setCookie.split(';')
    const [name, value] = splitPair(pair)
    if (!name) return
    if (attributes.some(expiresNow)) jar.delete(name)
    else jar.set(name, value)
  }
  const header = (): string => [...jar].map(([name, value]) => `${name}=${value}`).join('; ')

  return {
    header,
    get: (name) => jar.get(name),
    store,
    async fetch(input, init) {
      const headers = new Headers(init?.headers)
      if (jar.size > 0) headers.set('cookie', header())
      const response = await baseFetch(input, { ...init, headers })
      for (const setCookie of setCookiesOf(response.headers)) store(setCookie)
      return response
    },
  }
}

function splitPair(pair: string): [string, string] {
  const at = pair.indexOf('=')
  if (at < 0) return ['', '']
  return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()]
}

function expiresNow(attribute: string): boolean {
  const [name, value] = splitPair(attribute)
  const key = name.toLowerCase()
  if (key === 'max-age') return Number(value) <= 0
  if (key === 'expires') return Date.parse(value) <= Date.now()
  return false
}

/** Every Set-Cookie header of an answer; `getSetCookie` keeps them apart (Node 20, browsers). */
function setCookiesOf(headers: Headers): string[] {
  if (typeof headers.getSetCookie === 'function') return headers.getSetCookie()
  const joined = headers.get('set-cookie')
  return joined === null ? [] : [joined]
}
