import { describe, expect, it } from 'vitest'
import { createCookieJar } from './cookie-jar.ts'
import type { FetchLike } from './client.ts'

/** A server stand-in: records the Cookie header of each request and answers the given Set-Cookies. */
function fakeServer(answers: string[][]): { fetch: FetchLike; sent: (string | null)[] } {
  const sent: (string | null)[] = []
  const fetch: FetchLike = (_input, init) => {
    sent.push(new Headers(init?.headers).get('cookie'))
    const headers = new Headers()
    for (const setCookie of answers.shift() ?? []) headers.append('set-cookie', setCookie)
    return Promise.resolve(new Response('{}', { headers }))
  }
  return { fetch, sent }
}

describe('createCookieJar', () => {
  it('keeps what the server sets and sends it back; an expired cookie is removed', async () => {
    const server = fakeServer([
      ['sid=abc; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax; Secure', 'lang=zh; Path=/'],
      [],
      ['sid=; Max-Age=0; Path=/; HttpOnly'],
      [],
    ])
    const jar = createCookieJar({ fetch: server.fetch })
    for (let i = 0; i < 4; i++) await jar.fetch('http://server/api', { headers: { a: 'b' } })
    expect(server.sent).toEqual([null, 'sid=abc; lang=zh', 'sid=abc; lang=zh', 'lang=zh'])
    expect(jar.get('sid')).toBeUndefined()
    expect(jar.header()).toBe('lang=zh')
  })

  it('starts from a saved Cookie header and replaces a cookie the server sets again', async () => {
    const server = fakeServer([['sid=new; Path=/'], []])
    const jar = createCookieJar({ cookies: 'sid=old; theme=dark', fetch: server.fetch })
    expect(jar.get('sid')).toBe('old')
    await jar.fetch('http://server/a')
    await jar.fetch('http://server/b')
    expect(server.sent).toEqual(['sid=old; theme=dark', 'sid=new; theme=dark'])
  })

  it('an Expires date in the past removes a cookie; one in the future keeps it', () => {
    const jar = createCookieJar({ cookies: 'a=1; b=2' })
    jar.store('a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT')
    jar.store('b=3; Expires=Fri, 01 Jan 2100 00:00:00 GMT')
    jar.store('malformed')
    expect(jar.header()).toBe('b=3')
  })

  it('keeps the headers and body of the request it passes on', async () => {
    let seen: RequestInit | undefined
    const jar = createCookieJar({
      cookies: 'sid=x',
      fetch: (_input, init) => {
        seen = init
        return Promise.resolve(new Response(null))
      },
    })
    await jar.fetch('http://server', {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    })
    expect(seen?.method).toBe('POST')
    expect(seen?.body).toBe('{"a":1}')
    expect(new Headers(seen?.headers).get('content-type')).toBe('application/json')
    expect(new Headers(seen?.headers).get('cookie')).toBe('sid=x')
  })
})
