import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { clientIpOf, forwardedAddress, isAllowedOrigin } from './http-io.ts'

const request = (forwardedFor?: string) =>
  ({
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    socket: { remoteAddress: '10.0.0.9' },
  }) as unknown as IncomingMessage

describe('forwardedAddress: the forms real proxies write', () => {
  it.each([
    ['1.2.3.5', '1.2.3.5'],
    ['1.2.3.5:1234', '1.2.3.5'],
    ['2001:db8::1', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['"[2001:db8::1]:443"', '2001:db8::1'],
    ['::ffff:1.2.3.5', '::ffff:1.2.3.5'],
  ])('%s is %s', (entry, address) => {
    expect(forwardedAddress(entry)).toBe(address)
  })

  it.each([
    'unknown',
    '_hidden',
    'garbage',
    '1.2.3.5:',
    '1.2.3.5:99999999',
    '[1.2.3.5]:80',
    '[2001:db8::1',
    '2001:db8::1:443x',
    '',
  ])('%j is no address', (entry) => {
    expect(forwardedAddress(entry)).toBeNull()
  })
})

describe('clientIpOf', () => {
  it('ignores X-Forwarded-For without TRUST_PROXY', () => {
    expect(clientIpOf(request('1.2.3.5'), false)).toBe('10.0.0.9')
  })

  it('takes the last entry, without its port', () => {
    expect(clientIpOf(request('6.6.6.6, 1.2.3.5:1234'), true)).toBe('1.2.3.5')
    expect(clientIpOf(request('6.6.6.6, [2001:db8::1]:443'), true)).toBe('2001:db8::1')
  })

  it.each(['unknown', '1.2.3.5, garbage', '1.2.3.5,', ' , '])(
    'falls back to the socket address for %j, and reports it',
    (header) => {
      const reported: string[] = []
      expect(clientIpOf(request(header), true, (entry) => reported.push(entry))).toBe('10.0.0.9')
      expect(reported).toHaveLength(1)
    },
  )

  it('uses the socket address without a report when no X-Forwarded-For came', () => {
    const reported: string[] = []
    expect(clientIpOf(request(), true, (entry) => reported.push(entry))).toBe('10.0.0.9')
    expect(reported).toEqual([])
  })
})

describe('isAllowedOrigin: scheme, host and port', () => {
  const from = (
    origin: string | undefined,
    headers: Record<string, string> = {},
    encrypted = false,
  ) =>
    ({
      headers: { host: '127.0.0.1:3000', ...(origin === undefined ? {} : { origin }), ...headers },
      socket: { remoteAddress: '127.0.0.1', encrypted },
    }) as unknown as IncomingMessage

  it('passes no Origin and the server’s own', () => {
    expect(isAllowedOrigin(from(undefined), [])).toBe(true)
    expect(isAllowedOrigin(from('http://127.0.0.1:3000'), [])).toBe(true)
  })

  it.each([
    'ws://127.0.0.1:3000',
    'wss://127.0.0.1:3000',
    'foo://127.0.0.1:3000',
    'https://127.0.0.1:3000',
    'http://127.0.0.1:3001',
    'http://127.0.0.1',
    'http://evil.example',
    'http://user@127.0.0.1:3000',
    'http://127.0.0.1:3000/path',
    'null',
    'garbage',
  ])('refuses %s', (origin) => {
    expect(isAllowedOrigin(from(origin), [])).toBe(false)
  })

  it('takes the scheme from the socket, or from X-Forwarded-Proto behind a trusted proxy only', () => {
    expect(isAllowedOrigin(from('https://127.0.0.1:3000', {}, true), [])).toBe(true)
    const proxied = from('https://127.0.0.1:3000', { 'x-forwarded-proto': 'https' })
    expect(isAllowedOrigin(proxied, [], true)).toBe(true)
    expect(isAllowedOrigin(proxied, [], false)).toBe(false)
    const downgraded = from('http://127.0.0.1:3000', { 'x-forwarded-proto': 'https' })
    expect(isAllowedOrigin(downgraded, [], true)).toBe(false)
  })

  it('matches an ALLOWED_ORIGINS entry by scheme, host and port too', () => {
    const allowed = ['https://app.example', 'http://admin.example:8080/']
    expect(isAllowedOrigin(from('https://app.example'), allowed)).toBe(true)
    expect(isAllowedOrigin(from('https://app.example:443'), allowed)).toBe(true)
    expect(isAllowedOrigin(from('http://admin.example:8080'), allowed)).toBe(true)
    expect(isAllowedOrigin(from('http://app.example'), allowed)).toBe(false)
    expect(isAllowedOrigin(from('wss://app.example'), allowed)).toBe(false)
    expect(isAllowedOrigin(from('https://app.example:8443'), allowed)).toBe(false)
  })

  it('refuses every Origin when Host is not a plain host and port', () => {
    const odd = from('http://127.0.0.1:3000', { host: 'user@127.0.0.1:3000' })
    expect(isAllowedOrigin(odd, [])).toBe(false)
  })
})
