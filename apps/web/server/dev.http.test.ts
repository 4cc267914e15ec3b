import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'

let dataDir: string
let server: RunningServer

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'signup-dev-'))
  // What `pnpm dev` runs, with neither DATABASE_URL, REDIS_URL nor AUTH_SECRET: the defaults.
  server = await startServer(
    { DATA_DIR: dataDir, AUTH_SECRET: '' },
    { dev: true, timeoutMs: 120_000 },
  )
}, 180_000)

afterAll(async () => {
  await server?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('pnpm dev on the embedded defaults', () => {
  it('says at start which stores it uses', () => {
    expect(server.output()).toContain('embedded PGlite')
    expect(server.output()).toContain('in-process store')
    expect(server.output()).toContain('sms: console')
    expect(server.output()).toContain('sms codes: hmac')
  })

  it('generates an AUTH_SECRET once under DATA_DIR, and says so', async () => {
    expect(server.output()).toContain('AUTH_SECRET: dev default')
    const secret = (await readFile(path.join(dataDir, 'auth-secret'), 'utf8')).trim()
    expect(Buffer.byteLength(secret)).toBeGreaterThanOrEqual(32)
    expect(server.output()).not.toContain(secret)
  })

  it('is healthy and serves a captcha image', async () => {
    const health = await fetch(`${server.url}/healthz`)
    expect(health.status).toBe(200)
    const response = await fetch(`${server.url}/passport/image_code?imageCodeId=${randomUUID()}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/png')
    const bytes = Buffer.from(await response.arrayBuffer())
    expect(bytes.subarray(1, 4).toString()).toBe('PNG')
  })

  it('sends a code through tRPC, logging the code in development', async () => {
    const image = await fetch(`${server.url}/api/trpc/auth.getImageCode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    })
    const { result } = (await image.json()) as { result: { data: { imageCodeId: string } } }
    // The in-process store cannot be read from here, so a wrong answer checks the whole path.
    const refused = await fetch(`${server.url}/api/trpc/auth.sendSmsCode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        mobile: '13800000000',
        imageCode: '!!!!',
        imageCodeId: result.data.imageCodeId,
      }),
    })
    const body = (await refused.json()) as { error: { data: { errno: number } } }
    expect(body.error.data.errno).toBe(4004)
  })
})
