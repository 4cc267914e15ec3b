import { SEALED_CODE } from '@signup/auth/testing/test-services'
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import path from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshMobile } from '@signup/db/testing/mobiles'
import { leastMsLeft, leastSecondsLeft } from '@signup/api/testing/test-infra'
import { startServer, WEB_DIR } from '@signup/api/testing/test-server'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'

let stack: TestStack

beforeAll(async () => {
  stack = await startTestStack('http')
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  stack.post(path, body, headers)

async function seedCaptcha(text = 'Q7RT'): Promise<string> {
  const id = randomUUID()
  await stack.redis.set(`ImageCode_${id}`, text, 300)
  return id
}

describe('GET /healthz and GET /livez', () => {
  it('/healthz is 200 when Postgres and Redis answer', async () => {
    const response = await fetch(`${stack.server.url}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', postgres: 'ok', redis: 'ok', down: [] })
  })

  it('/livez is 200 while the process serves; other methods are refused', async () => {
    const response = await fetch(`${stack.server.url}/livez`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
    const post = await fetch(`${stack.server.url}/livez`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })
})

describe('GET /passport/image_code', () => {
  it('answers a PNG, not cached, and stores its answer under ImageCode_<id> for 300 s', async () => {
    const id = randomUUID()
    const since = Date.now()
    const response = await fetch(`${stack.server.url}/passport/image_code?imageCodeId=${id}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/png')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const bytes = Buffer.from(await response.arrayBuffer())
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
    expect(await stack.redis.get(`ImageCode_${id}`)).toMatch(/^[A-Z2-9]{4}$/)
    const ttl = await stack.redis.pttl(`ImageCode_${id}`)
    expect(ttl).toBeGreaterThanOrEqual(leastMsLeft(300, since))
    expect(ttl).toBeLessThanOrEqual(300_000)
  })

  it('a second request with the same id replaces the answer', async () => {
    const id = randomUUID()
    const answers = new Set<string | null>()
    for (let i = 0; i < 5; i++) {
      await fetch(`${stack.server.url}/passport/image_code?imageCodeId=${id}`).then((r) =>
        r.arrayBuffer(),
      )
      answers.add(await stack.redis.get(`ImageCode_${id}`))
    }
    expect(answers.size).toBeGreaterThan(1)
  })

  it.each(['', 'short', 'has space here', 'a'.repeat(65), 'semi;colon-123', '../../etc/passwd'])(
    'refuses the id %j with 400 and errno 4103',
    async (id) => {
      const response = await fetch(
        `${stack.server.url}/passport/image_code?imageCodeId=${encodeURIComponent(id)}`,
      )
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
    },
  )
})

describe('POST /passport/sms_code', () => {
  it('sends a code: 200 {errno: 0, errmsg: 发送成功}, and its HMAC is in SMS_<mobile>', async () => {
    const id = await seedCaptcha()
    const mobile = freshMobile()
    const response = await post(
      '/passport/sms_code',
      JSON.stringify({ mobile, image_code: 'q7rt', image_code_id: id }),
    )
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ errno: 0, errmsg: '发送成功' })
    // The code's HMAC (decision record 017); harden.http.test.ts checks, in plain mode where the
    // digits can be read, that the console provider never logs the code itself.
    const code = await stack.redis.get(`SMS_${mobile}`)
    expect(code).toMatch(SEALED_CODE)
    await expect
      .poll(() => stack.server.output(), { timeout: 20_000 })
      .toContain(`${mobile.slice(0, 3)}****${mobile.slice(-4)}`)
    expect(stack.server.output()).not.toContain(code)
  })

  it('answers business refusals with 200 and their errno, and REQERR with Retry-After', async () => {
    const mobile = freshMobile()
    const since = Date.now()
    const first = await post(
      '/passport/sms_code',
      JSON.stringify({ mobile, image_code: 'Q7RT', image_code_id: await seedCaptcha() }),
    )
    expect((await first.json()) as unknown).toMatchObject({ errno: 0 })
    const second = await post(
      '/passport/sms_code',
      JSON.stringify({ mobile, image_code: 'Q7RT', image_code_id: await seedCaptcha() }),
    )
    expect(second.status).toBe(200)
    expect(await second.json()).toEqual({ errno: 4201, errmsg: '请求过于频繁，请稍后再试' })
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(
      leastSecondsLeft(60, since),
    )

    const expired = await post(
      '/passport/sms_code',
      JSON.stringify({ mobile: freshMobile(), image_code: 'Q7RT', image_code_id: randomUUID() }),
    )
    expect(await expired.json()).toEqual({ errno: 4002, errmsg: '验证码已过期' })
    const badMobile = await post(
      '/passport/sms_code',
      JSON.stringify({ mobile: '1234', image_code: 'Q7RT', image_code_id: await seedCaptcha() }),
    )
    expect(await badMobile.json()).toEqual({ errno: 4004, errmsg: '手机号不正确' })
    const missing = await post('/passport/sms_code', JSON.stringify({ mobile: freshMobile() }))
    expect(missing.status).toBe(200)
    expect(await missing.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
  })
})

const twoMegabytes = JSON.stringify({ mobile: '13800000000', pad: 'x'.repeat(2 * 1024 * 1024) })

describe('bad requests never get a 5xx, and the server keeps serving', () => {
  const legacyCases: [string, () => Promise<Response>, number][] = [
    ['a JSON array', () => post('/passport/sms_code', '[]'), 400],
    ['a JSON string', () => post('/passport/sms_code', '"13800000000"'), 400],
    ['a JSON number', () => post('/passport/sms_code', '42'), 400],
    ['JSON null', () => post('/passport/sms_code', 'null'), 400],
    ['malformed JSON', () => post('/passport/sms_code', '{"mobile":'), 400],
    ['an empty body', () => post('/passport/sms_code', ''), 400],
    [
      'wrong types',
      () =>
        post(
          '/passport/sms_code',
          JSON.stringify({ mobile: 13800000000, image_code: ['x'], image_code_id: {} }),
        ),
      400,
    ],
    ['a 2 MB body', () => post('/passport/sms_code', twoMegabytes), 413],
    [
      'a text/plain content type',
      () => post('/passport/sms_code', '{}', { 'content-type': 'text/plain' }),
      400,
    ],
    [
      'a form content type',
      () =>
        post('/passport/sms_code', 'mobile=13800000000', {
          'content-type': 'application/x-www-form-urlencoded',
        }),
      400,
    ],
    [
      'a cross-site Origin',
      () => post('/passport/sms_code', '{}', { origin: 'https://evil.example' }),
      403,
    ],
    ['a GET', () => fetch(`${stack.server.url}/passport/sms_code`), 405],
  ]

  it.each(legacyCases)('legacy route: %s', async (_name, send, status) => {
    const response = await send()
    expect(response.status).toBe(status)
    expect(await response.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
  })

  const trpcCases: [string, () => Promise<Response>, number][] = [
    ['a JSON array', () => post('/api/trpc/auth.sendSmsCode', '[]'), 400],
    ['a JSON string', () => post('/api/trpc/auth.sendSmsCode', '"x"'), 400],
    ['malformed JSON', () => post('/api/trpc/auth.sendSmsCode', '{"mobile":'), 400],
    [
      'wrong types',
      () =>
        post(
          '/api/trpc/auth.sendSmsCode',
          JSON.stringify({ mobile: 1, imageCode: null, imageCodeId: 2 }),
        ),
      400,
    ],
    ['a 2 MB body', () => post('/api/trpc/auth.sendSmsCode', twoMegabytes), 413],
    [
      'a text/plain content type',
      () => post('/api/trpc/auth.sendSmsCode', '{}', { 'content-type': 'text/plain' }),
      415,
    ],
    [
      'a cross-site Origin',
      () => post('/api/trpc/auth.sendSmsCode', '{}', { origin: 'https://evil.example' }),
      403,
    ],
    ['an unknown procedure', () => post('/api/trpc/auth.nope', '{}'), 404],
  ]

  it.each(trpcCases)('tRPC: %s', async (_name, send, status) => {
    const response = await send()
    expect(response.status).toBe(status)
    const body = (await response.json()) as { error: { data: { errno: number; errmsg: string } } }
    expect(body.error.data).toMatchObject({ errno: 4103, errmsg: '参数不全' })
  })

  it('still serves after all of them', async () => {
    expect((await fetch(`${stack.server.url}/healthz`)).status).toBe(200)
    expect(stack.server.process.exitCode).toBeNull()
  })
})

describe('tRPC over plain HTTP, no transformer', () => {
  it('getImageCode then sendSmsCode with the plain input object as the body', async () => {
    const image = await post('/api/trpc/auth.getImageCode', '')
    expect(image.status).toBe(200)
    const { result } = (await image.json()) as {
      result: { data: { imageCodeId: string; image: string; expiresIn: number } }
    }
    expect(result.data.image).toMatch(/^data:image\/png;base64,/)
    expect(result.data.expiresIn).toBe(300)
    const answer = await stack.redis.get(`ImageCode_${result.data.imageCodeId}`)

    const mobile = freshMobile()
    const sent = await post(
      '/api/trpc/auth.sendSmsCode',
      JSON.stringify({ mobile, imageCode: answer, imageCodeId: result.data.imageCodeId }),
    )
    expect(sent.status).toBe(200)
    expect(await sent.json()).toEqual({
      result: { data: { errno: 0, errmsg: '发送成功', expiresIn: 300, resendIn: 60 } },
    })
  })

  it('a refusal carries errno, errmsg and the fitting HTTP status', async () => {
    const response = await post(
      '/api/trpc/auth.sendSmsCode',
      JSON.stringify({ mobile: '12345', imageCode: 'AAAA', imageCodeId: await seedCaptcha() }),
    )
    expect(response.status).toBe(400)
    const body = (await response.json()) as {
      error: { message: string; data: Record<string, unknown> }
    }
    expect(body.error.data).toMatchObject({
      code: 'BAD_REQUEST',
      errno: 4004,
      errmsg: '手机号不正确',
    })
    expect(body.error.data).not.toHaveProperty('stack')
  })

  it('REQERR is 429 with retryAfter in error.data', async () => {
    const mobile = freshMobile()
    const send = async () =>
      post(
        '/api/trpc/auth.sendSmsCode',
        JSON.stringify({ mobile, imageCode: 'Q7RT', imageCodeId: await seedCaptcha() }),
      )
    const since = Date.now()
    expect((await send()).status).toBe(200)
    const refused = await send()
    expect(refused.status).toBe(429)
    const body = (await refused.json()) as { error: { data: Record<string, unknown> } }
    expect(body.error.data).toMatchObject({ errno: 4201, code: 'TOO_MANY_REQUESTS' })
    expect(body.error.data.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(60, since))
  })
})

describe('everything else goes to Next.js', () => {
  it('serves the page at /', async () => {
    const response = await fetch(`${stack.server.url}/`)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('手机号注册')
  })

  it.each(['/', '/no-such-page'])('sends the security headers on %s', async (pagePath) => {
    const response = await fetch(`${stack.server.url}${pagePath}`)
    const csp = response.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain("default-src 'self'")
    expect(csp).not.toContain('unsafe-eval')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin')
  })
})

describe('GET /_next/static/*: the build, precompressed, off Next', () => {
  /** The page's largest script, as the page names it, and its bytes on disk. */
  async function largestScript(): Promise<{ path: string; body: Buffer }> {
    const html = await (await fetch(`${stack.server.url}/`)).text()
    const paths = [...html.matchAll(/src="(\/_next\/static\/[^"]+\.js)"/g)].map((m) => m[1] ?? '')
    const files = await Promise.all(
      paths.map(async (scriptPath) => ({
        path: scriptPath,
        body: await readFile(path.join(WEB_DIR, '.next', scriptPath.replace('/_next/', ''))),
      })),
    )
    const largest = files.sort((a, b) => b.body.length - a.body.length)[0]
    if (!largest) throw new Error('the page names no script')
    return largest
  }

  /** A raw GET (fetch would decode the body and hide the encoding). */
  function get(urlPath: string, acceptEncoding?: string) {
    return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>(
      (resolve, reject) => {
        const headers: Record<string, string> = acceptEncoding
          ? { 'accept-encoding': acceptEncoding }
          : {}
        request(new URL(urlPath, stack.server.url), { headers }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          )
        })
          .on('error', reject)
          .end()
      },
    )
  }

  it.each([
    ['br, gzip', 'br', brotliDecompressSync],
    ['gzip', 'gzip', gunzipSync],
  ] as const)(
    'answers Accept-Encoding %s with the precompressed %s copy, cached for a year',
    async (accept, encoding, decode) => {
      const script = await largestScript()
      const response = await get(script.path, accept)
      expect(response.status).toBe(200)
      expect(response.headers['content-encoding']).toBe(encoding)
      expect(response.headers['content-type']).toMatch(/javascript/)
      expect(response.headers['cache-control']).toBe('public,max-age=31536000,immutable')
      expect(response.headers.vary).toBe('Accept-Encoding')
      expect(response.headers['x-content-type-options']).toBe('nosniff')
      expect(response.body.length).toBeLessThan(script.body.length / 2)
      expect(decode(response.body).equals(script.body)).toBe(true)
    },
  )

  it('answers a client that takes no encoding with the file itself', async () => {
    const script = await largestScript()
    const response = await get(script.path)
    expect(response.status).toBe(200)
    expect(response.headers['content-encoding']).toBeUndefined()
    expect(response.body.equals(script.body)).toBe(true)
  })

  it('leaves a path the build does not have to Next: 404', async () => {
    const response = await get('/_next/static/chunks/no-such-chunk.js', 'br')
    expect(response.status).toBe(404)
  })
})

describe('production start-up', () => {
  it('exits at once, naming the variable, when SMS_PROVIDER is not set explicitly', async () => {
    await expect(
      startServer({ DATABASE_URL: stack.database.url, REDIS_URL: 'redis://127.0.0.1:6379' }),
    ).rejects.toThrow(/exited with 1[\s\S]*SMS_PROVIDER: is required in production/)
  })
})
