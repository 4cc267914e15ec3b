import fc from 'fast-check'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_REDIS_URL } from '@signup/api/testing/test-infra'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { rawRequest } from './testing/raw-http.ts'

// Property-based fuzzing of both surfaces against the production server: whatever arrives, the
// answer is never a 5xx and no SMS code is ever stored or sent (no captcha was issued to match).
const RUNS = 200
let stack: TestStack

beforeAll(async () => {
  stack = await startTestStack('fuzz', {
    // The captcha limit would turn most image requests into 429s; the fuzz is about the handlers.
    CAPTCHA_LIMIT_IP_MINUTE: '1000000',
  })
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

const FIELDS = ['mobile', 'image_code', 'image_code_id', 'imageCode', 'imageCodeId'] as const

/** Values of every shape, including the huge and the deeply nested. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    '13800000000',
    '+8613800000000',
    '１３８００００００００',
    '13800000000\n',
    '',
    'ABCD',
    '__proto__',
    'constructor',
  ),
  fc.integer({ min: 14_000, max: 40_000 }).map((length) => 'x'.repeat(length)),
  fc.integer({ min: 1, max: 3_000 }).map((depth) => nested(depth)),
)

function nested(depth: number): unknown {
  let value: unknown = '13800000000'
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { mobile: value }
  return value
}

/** Request bodies: objects with the real fields set to anything, any JSON, and not JSON at all. */
const body: fc.Arbitrary<string> = fc.oneof(
  fc
    .record(
      Object.fromEntries(FIELDS.map((field) => [field, anyValue])) as Record<
        (typeof FIELDS)[number],
        fc.Arbitrary<unknown>
      >,
      { requiredKeys: [] },
    )
    .map((record) => JSON.stringify(record)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  anyValue.map((value) => JSON.stringify({ mobile: value, image_code: value, imageCode: value })),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc
    .integer({ min: 1, max: 20_000 })
    .map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
)

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
)

async function post(path: string, payload: string, type: string): Promise<number> {
  const response = await fetch(`${stack.server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: payload,
  })
  await response.arrayBuffer()
  return response.status
}

async function smsKeys(): Promise<string[]> {
  const redis = new Redis(TEST_REDIS_URL)
  try {
    return await redis.keys(`${stack.prefix}SMS_*`)
  } finally {
    redis.disconnect()
  }
}

const SIGN_IN_FIELDS = [
  'mobile',
  'password',
  'smscode',
  'smsCode',
  'purpose',
  'image_code',
  'image_code_id',
] as const

/** Bodies for the sign-in routes: their fields set to anything (purposes too), or any body. */
const signInBody: fc.Arbitrary<string> = fc.oneof(
  fc
    .record(
      Object.fromEntries(
        SIGN_IN_FIELDS.map((field) => [
          field,
          field === 'purpose'
            ? fc.oneof(anyValue, fc.constantFrom('register', 'login', 'reset'))
            : anyValue,
        ]),
      ) as Record<(typeof SIGN_IN_FIELDS)[number], fc.Arbitrary<unknown>>,
      { requiredKeys: [] },
    )
    .map((record) => JSON.stringify(record)),
  body,
)

/** Codes of every purpose the server holds: none, since no captcha was ever issued. */
async function codeKeys(): Promise<string[]> {
  const redis = new Redis(TEST_REDIS_URL)
  try {
    return [
      ...(await redis.keys(`${stack.prefix}SMS_*`)),
      ...(await redis.keys(`${stack.prefix}signup:sms-code:*`)),
    ]
  } finally {
    redis.disconnect()
  }
}

async function userCount(): Promise<number> {
  const client = new pg.Client({ connectionString: stack.database.url })
  await client.connect()
  try {
    const result = await client.query<{ count: string }>('SELECT count(*) FROM users')
    return Number(result.rows[0]?.count)
  } finally {
    await client.end()
  }
}

describe('fuzzing both surfaces', () => {
  it('POST /passport/sms_code: never a 5xx, never a code', async () => {
    await fc.assert(
      fc.asyncProperty(body, contentType, async (payload, type) => {
        expect(await post('/passport/sms_code', payload, type)).toBeLessThan(500)
      }),
      { numRuns: RUNS },
    )
    expect(await smsKeys()).toEqual([])
  })

  it('POST /api/trpc/auth.sendSmsCode: never a 5xx, never a code', async () => {
    await fc.assert(
      fc.asyncProperty(body, contentType, async (payload, type) => {
        expect(await post('/api/trpc/auth.sendSmsCode', payload, type)).toBeLessThan(500)
      }),
      { numRuns: RUNS },
    )
    expect(await smsKeys()).toEqual([])
  })

  it('POST /passport/register and auth.register: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (payload, legacy) => {
        const path = legacy ? '/passport/register' : '/api/trpc/auth.register'
        expect(await post(path, payload, 'application/json')).toBeLessThan(500)
      }),
      { numRuns: RUNS / 2 },
    )
  })

  it('GET /passport/image_code with any id and any query string: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.boolean(),
        async (id, raw) => {
          const query = raw
            ? encodeURIComponent(id).replaceAll('%3D', '=').replaceAll('%26', '&')
            : `imageCodeId=${encodeURIComponent(id)}`
          const response = await fetch(`${stack.server.url}/passport/image_code?${query}`)
          await response.arrayBuffer()
          expect(response.status).toBeLessThan(500)
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('sent no SMS through the provider at all', async () => {
    await stack.logsFlushed()
    expect(stack.server.output()).not.toContain('console provider')
    expect(await smsKeys()).toEqual([])
  })
})

describe('fuzzing the sign-in surfaces', () => {
  it('POST /passport/sms_code with any purpose: never a 5xx, never a code of any purpose', async () => {
    await fc.assert(
      fc.asyncProperty(signInBody, contentType, async (payload, type) => {
        expect(await post('/passport/sms_code', payload, type)).toBeLessThan(500)
      }),
      { numRuns: RUNS },
    )
    expect(await codeKeys()).toEqual([])
  })

  it('POST /passport/login and auth.login: never a 5xx, and no session', async () => {
    await fc.assert(
      fc.asyncProperty(signInBody, contentType, fc.boolean(), async (payload, type, legacy) => {
        const path = legacy ? '/passport/login' : '/api/trpc/auth.login'
        const response = await fetch(`${stack.server.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': type },
          body: payload,
        })
        await response.arrayBuffer()
        expect(response.status).toBeLessThan(500)
        expect(response.headers.get('set-cookie')).toBeNull()
      }),
      { numRuns: RUNS / 2 },
    )
  })

  it('auth.loginWithSmsCode and auth.resetPassword: never a 5xx, and no account is made', async () => {
    const before = await userCount()
    await fc.assert(
      fc.asyncProperty(signInBody, fc.boolean(), async (payload, byCode) => {
        const path = byCode ? '/api/trpc/auth.loginWithSmsCode' : '/api/trpc/auth.resetPassword'
        expect(await post(path, payload, 'application/json')).toBeLessThan(500)
      }),
      { numRuns: RUNS / 2 },
    )
    expect(await userCount()).toBe(before)
  })

  it('POST and GET /passport/logout and auth.logout, with any body and any fetch headers: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        signInBody,
        fc.constantFrom('/passport/logout', '/api/trpc/auth.logout'),
        fc.constantFrom('GET', 'POST'),
        fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), { nil: undefined }),
        fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), { nil: undefined }),
        async (payload, path, method, site, cookie) => {
          const headers: Record<string, string> = { 'content-type': 'application/json' }
          if (site !== undefined) headers['sec-fetch-site'] = site
          if (cookie !== undefined) headers.cookie = `__Host-sid=${cookie}; sid=${cookie}`
          const response = await fetch(`${stack.server.url}${path}`, {
            method,
            headers,
            ...(method === 'POST' ? { body: payload } : {}),
          }).catch((error: unknown) => {
            // A header value fetch itself refuses to send is the client's mistake, not the server's.
            if (error instanceof TypeError) return null
            throw error
          })
          if (!response) return
          await response.arrayBuffer()
          expect(response.status).toBeLessThan(500)
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('GET /api/trpc/auth.me with any input, cookie and method: never a 5xx, never a user', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.string({ unit: 'binary', maxLength: 200 }), { nil: undefined }),
        fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 60 }), { nil: undefined }),
        fc.constantFrom('__Host-sid', 'sid'),
        fc.constantFrom('GET', 'POST'),
        async (input, cookie, name, method) => {
          const query = input === undefined ? '' : `?input=${encodeURIComponent(input)}`
          const response = await fetch(`${stack.server.url}/api/trpc/auth.me${query}`, {
            method,
            headers: {
              'content-type': 'application/json',
              ...(cookie === undefined ? {} : { cookie: `${name}=${cookie}` }),
            },
            ...(method === 'POST' ? { body: input ?? '' } : {}),
          }).catch((error: unknown) => {
            if (error instanceof TypeError) return null
            throw error
          })
          if (!response) return
          const body = (await response.json()) as { result?: { data: unknown } }
          expect(response.status).toBeLessThan(500)
          if (body.result) expect(body.result.data).toBeNull()
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('the server still serves', async () => {
    expect((await fetch(`${stack.server.url}/healthz`)).status).toBe(200)
    expect(stack.server.process.exitCode).toBeNull()
  })
})

describe('fuzzing what fetch cannot send (raw sockets)', () => {
  /** A request line's target or a Host value: one line of any printable ASCII, of every form. */
  const oneLine = (forms: string[]) =>
    fc.oneof(
      fc.constantFrom(...forms),
      fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
      fc
        .tuple(fc.constantFrom(...forms), fc.string({ unit: 'grapheme-ascii', maxLength: 40 }))
        .map(([form, tail]) => form + tail),
    )
  const targets = oneLine([
    '*',
    '/',
    '//',
    '/\\',
    'http://',
    'https://evil.example',
    'evil.example:443',
    '/api/trpc/',
    '/passport/',
    '/passport/image_code?imageCodeId=',
    '?',
    '#',
    '%',
  ])
  const hosts = oneLine(['127.0.0.1', 'user@', '[::1', '[', ':', '@', 'evil.example/', ''])

  it('any method, request target and Host: always an answer, never a 5xx, nothing but JSON logged', async () => {
    const before = stack.server.output().length
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'POST', 'OPTIONS', 'CONNECT', 'PUT', 'BREW'),
        targets,
        fc.option(hosts, { nil: undefined }),
        async (method, target, host) => {
          const head = [`${method} ${target} HTTP/1.1`]
          if (host !== undefined) head.push(`Host: ${host}`)
          const request = [...head, 'Content-Length: 0', 'Connection: close', '', ''].join('\r\n')
          const answer = await rawRequest(stack.server.port, request)
          expect(answer.status, request).toBeLessThan(500)
        },
      ),
      { numRuns: RUNS },
    )
    await stack.logsFlushed()
    const notJson = stack.server
      .output()
      .slice(before)
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('{'))
    expect(notJson).toEqual([])
  })
})

describe('fuzzing the captcha id space', () => {
  it('no legacy request, with any id near or equal to one auth.getImageCode issued, changes that captcha', async () => {
    const response = await fetch(`${stack.server.url}/api/trpc/auth.getImageCode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    })
    const { imageCodeId } = (
      (await response.json()) as { result: { data: { imageCodeId: string } } }
    ).result.data
    const answer = await stack.redis.get(`ImageCode_${imageCodeId}`)
    expect(answer).toMatch(/^[A-Z2-9]{4}$/)
    const near = fc.oneof(
      fc.constant(imageCodeId),
      fc.constant(imageCodeId.toUpperCase()),
      fc.nat(35).map((at) => imageCodeId.slice(0, at) + imageCodeId.slice(at + 1)),
      fc
        .tuple(fc.nat(35), fc.constantFrom(...'0123456789abcdefABCDEF-'))
        .map(([at, char]) => imageCodeId.slice(0, at) + char + imageCodeId.slice(at + 1)),
      fc.string({ unit: 'grapheme-ascii', maxLength: 4 }).map((tail) => imageCodeId + tail),
      fc.string({ unit: 'grapheme-ascii', maxLength: 4 }).map((head) => head + imageCodeId),
    )
    await fc.assert(
      fc.asyncProperty(near, fc.constantFrom('GET', 'HEAD'), async (id, method) => {
        const legacy = await fetch(
          `${stack.server.url}/passport/image_code?imageCodeId=${encodeURIComponent(id)}`,
          { method },
        )
        await legacy.arrayBuffer()
        expect(legacy.status).toBeLessThan(500)
        expect(await stack.redis.get(`ImageCode_${imageCodeId}`)).toBe(answer)
      }),
      { numRuns: RUNS },
    )
  })
})
