import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createSessionCookie, readCookie } from './session-cookie.ts'

function fakeExchange(cookieHeader?: string) {
  const headers = new Map<string, unknown>()
  const req = { headers: cookieHeader === undefined ? {} : { cookie: cookieHeader } }
  const res = { setHeader: (name: string, value: unknown) => headers.set(name, value) }
  return { req: req as IncomingMessage, res: res as unknown as ServerResponse, headers }
}

describe('readCookie', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['sid=abc', 'abc'],
    ['theme=dark; sid=abc; lang=zh', 'abc'],
    ['  sid = abc  ', 'abc'],
    ['xsid=nope; sidx=nope', null],
    ['sid=', null],
    ['sid=first; sid=second', 'first'],
    ['broken; sid=abc', 'abc'],
  ])('%j gives %j', (header, expected) => {
    expect(readCookie(header, 'sid')).toBe(expected)
  })
})

describe('createSessionCookie', () => {
  it('reads the id and writes HttpOnly, SameSite=Lax, Path=/ cookies with Max-Age', () => {
    const { req, res, headers } = fakeExchange('sid=abc')
    const cookie = createSessionCookie(req, res, { secure: false })
    expect(cookie.id).toBe('abc')
    cookie.set('new-id', 3600)
    expect(headers.get('set-cookie')).toBe(
      'sid=new-id; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax',
    )
    cookie.clear()
    expect(headers.get('set-cookie')).toBe('sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax')
  })

  it('is __Host-sid with Secure in production (Path=/, no Domain), and reads no sid there', () => {
    const { req, res, headers } = fakeExchange('sid=planted; __Host-sid=mine')
    const cookie = createSessionCookie(req, res, { secure: true })
    expect(cookie.id).toBe('mine')
    cookie.set('id', 60)
    expect(headers.get('set-cookie')).toBe(
      '__Host-sid=id; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure',
    )
    cookie.clear()
    expect(headers.get('set-cookie')).toBe(
      '__Host-sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure',
    )
    const planted = fakeExchange('sid=planted')
    expect(createSessionCookie(planted.req, planted.res, { secure: true }).id).toBeNull()
  })

  it('development reads sid and not __Host-sid', () => {
    const { req, res } = fakeExchange('__Host-sid=other; sid=dev')
    expect(createSessionCookie(req, res, { secure: false }).id).toBe('dev')
  })
})
