import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '@signup/db/testing/server-process'
import { startPrivateRedis, stopProcess } from './testing/private-redis.ts'
import { startTestStack } from './testing/test-stack.ts'
import type { TestStack } from './testing/test-stack.ts'

// Issue 14, item 9: the errmsg of a captcha the store cannot keep is the one docs/http-api.md and
// the contract's table name, on both surfaces, against the built server.
let redisProcess: ChildProcess | undefined
let stack: TestStack | undefined

beforeAll(async () => {
  const port = await freePort()
  // A Redis of the test's own that counts captchas (signup:* keys) but refuses to keep an answer
  // (ImageCode_*): its one user may read every key and write only the signup:* ones.
  redisProcess = await startPrivateRedis(port, [
    '--user',
    'default',
    'on',
    'nopass',
    'resetkeys',
    '%R~*',
    '~signup:*',
    '&*',
    '+@all',
  ])
  stack = await startTestStack('http-captcha-store-fault', {
    REDIS_URL: `redis://127.0.0.1:${port}`,
    REDIS_KEY_PREFIX: '',
  })
}, 180_000)

afterAll(async () => {
  await stack?.stop()
  if (redisProcess) await stopProcess(redisProcess)
})

describe('the captcha store fails', () => {
  it('a captcha that cannot be kept answers 4001 获取图片验证码失败 on both surfaces', async () => {
    const url = stack?.server.url ?? ''
    const legacy = await fetch(`${url}/passport/image_code?imageCodeId=${randomUUID()}`)
    expect(legacy.status).toBe(503)
    expect(await legacy.json()).toEqual({ errno: 4001, errmsg: '获取图片验证码失败' })
    const trpc = await fetch(`${url}/api/trpc/auth.getImageCode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    })
    expect(trpc.status).toBe(500)
    const { error } = (await trpc.json()) as { error: { message: string; data: unknown } }
    expect(error.message).toBe('获取图片验证码失败')
    expect(error.data).toMatchObject({ errno: 4001, errmsg: '获取图片验证码失败' })
  })
})
