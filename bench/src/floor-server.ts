// The floor the send path is measured against (issue 17): a framework-free node:http server doing
// the round trips a send cannot do without, and nothing else. POST /passport/sms_code reads the
// original's JSON body, takes the captcha (GETDEL), asks whether the mobile is registered (one
// SELECT, a named prepared statement), stores the code once per mobile (SET NX EX) and answers
// the original's JSON. No limits, no logging, no HMAC, no validation beyond what the steps need.
// Run as its own process: `tsx bench/src/floor-server.ts` with DATABASE_URL, REDIS_URL,
// REDIS_KEY_PREFIX and PORT; it prints `listening <port>` once it accepts connections.
import { randomInt } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Redis } from 'ioredis'
import pg from 'pg'

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  keyPrefix: process.env.REDIS_KEY_PREFIX ?? '',
  enableAutoPipelining: true,
})
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
const userExists = {
  name: 'floor-user-exists',
  text: 'SELECT 1 FROM "users" WHERE "mobile" = $1 LIMIT 1',
  rowMode: 'array',
} as const

function answer(res: ServerResponse, status: number, errno: string, errmsg: string): void {
  const body = JSON.stringify({ errno, errmsg })
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : null
  } catch {
    return null
  }
}

async function sendSmsCode(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJson(req)
  const mobile = body?.mobile
  const imageCode = body?.image_code
  const imageCodeId = body?.image_code_id
  if (
    typeof mobile !== 'string' ||
    typeof imageCode !== 'string' ||
    typeof imageCodeId !== 'string'
  ) {
    return answer(res, 400, '4103', '参数错误')
  }
  const expected = await redis.getdel(`ImageCode_${imageCodeId}`)
  if (expected === null) return answer(res, 200, '4002', '验证码已过期')
  if (expected.toLowerCase() !== imageCode.toLowerCase()) {
    return answer(res, 200, '4004', '验证码输入错误')
  }
  const registered = await pool.query({ ...userExists, values: [mobile] })
  if (registered.rows.length > 0) return answer(res, 200, '4003', '该手机已被注册')
  const code = randomInt(1_000_000).toString().padStart(6, '0')
  const stored = await redis.set(`SMS_${mobile}`, code, 'EX', 300, 'NX')
  if (stored !== 'OK') return answer(res, 200, '4201', '请求过于频繁，请稍后再试')
  answer(res, 200, '0', '发送成功')
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/passport/sms_code') {
    return answer(res, 404, '4104', 'not found')
  }
  sendSmsCode(req, res).catch(() => {
    if (!res.headersSent) answer(res, 500, '4001', '数据库查询错误')
  })
})

await redis.ping()
await pool.query('SELECT 1')
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`)
})
const stop = (): void => {
  server.close()
  redis.disconnect()
  void pool.end()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
