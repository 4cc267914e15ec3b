import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshMobile } from '@signup/db/testing/mobiles'
import { leastSecondsLeft } from '@signup/api/testing/test-infra'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'

let stack: TestStack

beforeAll(async () => {
  stack = await startTestStack('http-limits', {
    // Each test names its client through X-Forwarded-For, so the per-IP limits stay apart.
    TRUST_PROXY: '1',
    SMS_LIMIT_IP_HOUR: '2',
    CAPTCHA_LIMIT_IP_MINUTE: '2',
  })
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

async function seedCaptcha(): Promise<string> {
  const id = randomUUID()
  await stack.redis.set(`ImageCode_${id}`, 'Q7RT', 300)
  return id
}

async function legacySend(mobile: string, ip: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.server.url}/passport/sms_code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...headers },
    body: JSON.stringify({ mobile, image_code: 'q7rt', image_code_id: await seedCaptcha() }),
  })
  return { response, body: (await response.json()) as { errno: number; errmsg: string } }
}

async function trpcSend(mobile: string, ip: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.server.url}/api/trpc/auth.sendSmsCode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...headers },
    body: JSON.stringify({ mobile, imageCode: 'q7rt', imageCodeId: await seedCaptcha() }),
  })
  return { response, body: (await response.json()) as Record<string, unknown> }
}

const retryAfterOf = (response: Response) => Number(response.headers.get('retry-after'))

describe('send limits over HTTP', () => {
  it('the resend window: legacy 200 REQERR with Retry-After, tRPC 429 with retryAfter', async () => {
    const mobile = freshMobile()
    const since = Date.now()
    expect((await legacySend(mobile, '198.51.100.1')).body.errno).toBe(0)

    const legacy = await legacySend(mobile, '198.51.100.2')
    expect(legacy.response.status).toBe(200)
    expect(legacy.body).toEqual({ errno: 4201, errmsg: '请求过于频繁，请稍后再试' })
    expect(retryAfterOf(legacy.response)).toBeGreaterThanOrEqual(leastSecondsLeft(60, since))
    expect(retryAfterOf(legacy.response)).toBeLessThanOrEqual(60)

    const trpc = await trpcSend(mobile, '198.51.100.3')
    expect(trpc.response.status).toBe(429)
    expect(trpc.body).toMatchObject({
      error: { data: { errno: 4201, code: 'TOO_MANY_REQUESTS', field: 'mobile' } },
    })
    const data = (trpc.body.error as { data: { retryAfter: number } }).data
    expect(data.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(60, since))
    expect(retryAfterOf(trpc.response)).toBe(data.retryAfter)
  })

  it('SMS_LIMIT_IP_HOUR counts one client across both surfaces, with Retry-After', async () => {
    const ip = '198.51.100.10'
    const since = Date.now()
    expect((await legacySend(freshMobile(), ip)).body.errno).toBe(0)
    expect((await trpcSend(freshMobile(), ip)).response.status).toBe(200)
    const legacy = await legacySend(freshMobile(), ip)
    expect(legacy.body.errno).toBe(4201)
    expect(retryAfterOf(legacy.response)).toBeGreaterThanOrEqual(leastSecondsLeft(3600, since))
    const trpc = await trpcSend(freshMobile(), ip)
    expect(trpc.response.status).toBe(429)
    expect(retryAfterOf(trpc.response)).toBeGreaterThanOrEqual(leastSecondsLeft(3600, since))
    // Without TRUST_PROXY this would be the socket's address; here each proxy-named client counts.
    expect((await legacySend(freshMobile(), '198.51.100.11')).body.errno).toBe(0)
  })

  it('CAPTCHA_LIMIT_IP_MINUTE: the image route answers 429 with Retry-After, tRPC 429 REQERR', async () => {
    const ip = '198.51.100.20'
    const image = (id = randomUUID()) =>
      fetch(`${stack.server.url}/passport/image_code?imageCodeId=${id}`, {
        headers: { 'x-forwarded-for': ip },
      })
    const since = Date.now()
    expect((await image()).status).toBe(200)
    const trpcImage = () =>
      fetch(`${stack.server.url}/api/trpc/auth.getImageCode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        body: '{}',
      })
    expect((await trpcImage()).status).toBe(200)
    const refused = await image()
    expect(refused.status).toBe(429)
    expect(retryAfterOf(refused)).toBeGreaterThanOrEqual(leastSecondsLeft(60, since))
    expect(await refused.json()).toEqual({ errno: 4201, errmsg: '请求过于频繁，请稍后再试' })
    const trpcRefused = await trpcImage()
    expect(trpcRefused.status).toBe(429)
    expect(await trpcRefused.json()).toMatchObject({ error: { data: { errno: 4201 } } })
  })
})

describe('request ids and logs', () => {
  it('echoes a sane X-Request-Id, replaces any other, and logs it with the request', async () => {
    const mobile = freshMobile()
    const sentId = `sent-${randomUUID()}`
    await legacySend(mobile, '198.51.100.30', { 'x-request-id': sentId })
    const id = `test-${randomUUID()}`
    const refused = await trpcSend(mobile, '198.51.100.31', { 'x-request-id': id })
    expect(refused.response.headers.get('x-request-id')).toBe(id)

    const forged = await fetch(`${stack.server.url}/healthz`, {
      headers: { 'x-request-id': 'evil"} id with spaces' },
    })
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const generated = await fetch(`${stack.server.url}/`, { method: 'HEAD' })
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)

    // Production logs are buffered (flushed every 250 ms): wait for the lines, however long that is.
    const lines = () =>
      stack.server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
    const inTime = { timeout: 20_000 }
    await expect.poll(lines, inTime).toContainEqual(
      expect.objectContaining({
        reqId: id,
        msg: 'sms send refused by a limit',
        limit: 'resend',
        mobile: `${mobile.slice(0, 3)}****${mobile.slice(-4)}`,
      }),
    )
    // The provider's own line (console here) carries the id of the request that sent it.
    await expect
      .poll(lines, inTime)
      .toContainEqual(
        expect.objectContaining({ reqId: sentId, msg: 'sms code (console provider, not sent)' }),
      )
    // Masked mobiles only, and never a code or a captcha answer.
    const output = stack.server.output()
    expect(output).not.toContain(mobile)
    expect(output).not.toMatch(/"code":"\d{6}"/)
    expect(output.toLowerCase()).not.toContain('q7rt')
  })
})
