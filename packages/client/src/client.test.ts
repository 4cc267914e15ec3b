import { TRPCClientError } from '@trpc/client'
import { describe, expect, it } from 'vitest'
import { refusalOf, trpcEndpoint } from './client.ts'

describe('refusalOf', () => {
  it('reads errno, errmsg, retryAfter and field from an error the server shaped', () => {
    const error = TRPCClientError.from({
      error: {
        code: -32029,
        message: '请求过于频繁，请稍后再试',
        data: {
          code: 'TOO_MANY_REQUESTS',
          httpStatus: 429,
          errno: 4201,
          errmsg: '请求过于频繁，请稍后再试',
          retryAfter: 42,
          field: 'mobile',
        },
      },
    })
    expect(refusalOf(error)).toEqual({
      errno: 4201,
      errmsg: '请求过于频繁，请稍后再试',
      retryAfter: 42,
      field: 'mobile',
    })
  })

  it('leaves out what the server did not send', () => {
    const error = { data: { errno: 4003, errmsg: '该手机已被注册', retryAfter: null } }
    expect(refusalOf(error)).toEqual({ errno: 4003, errmsg: '该手机已被注册' })
  })

  it('is null for anything that is not a refusal', () => {
    expect(refusalOf(new TRPCClientError('fetch failed'))).toBeNull()
    expect(refusalOf(new Error('boom'))).toBeNull()
    expect(refusalOf({ data: { code: 'BAD_REQUEST', httpStatus: 400 } })).toBeNull()
    expect(refusalOf({ data: { errno: '4003', errmsg: 'x' } })).toBeNull()
    expect(refusalOf(null)).toBeNull()
    expect(refusalOf('refused')).toBeNull()
  })
})

describe('trpcEndpoint', () => {
  it('adds /api/trpc to the base URL, with or without a trailing slash', () => {
    expect(trpcEndpoint('http://localhost:3000')).toBe('http://localhost:3000/api/trpc')
    expect(trpcEndpoint('https://example.com/signup/')).toBe('https://example.com/signup/api/trpc')
  })
})
