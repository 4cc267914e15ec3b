import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { clientIpOf, forwardedAddress } from './http-io.ts'

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
