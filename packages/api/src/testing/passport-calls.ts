import { randomUUID } from 'node:crypto'
import { captchaKey } from '@signup/auth/stores'
import type { KeyValueStore } from '@signup/kv/store'

/** A running server to call, and the Redis (under its key prefix) it keeps captchas in. */
export interface PassportTarget {
  post(path: string, body: string, headers?: Record<string, string>): Promise<Response>
  redis: KeyValueStore
}

/** How a call was answered: the HTTP status, the errno (tRPC's or the legacy one), the cookie. */
export interface Answer {
  status: number
  errno: number | undefined
  /** `__Host-sid=…` (the production server's session cookie) when the answer set one. */
  cookie: string | undefined
}

/** POSTs `fields` as JSON to a legacy route or a tRPC procedure and reads the errno out of either. */
export async function call(
  target: PassportTarget,
  path: string,
  fields: Record<string, unknown>,
  cookie?: string,
): Promise<Answer> {
  const response = await target.post(path, JSON.stringify(fields), cookie ? { cookie } : {})
  const body = (await response.json().catch(() => ({}))) as {
    errno?: number
    result?: { data?: { errno?: number } }
    error?: { data?: { errno?: number } }
  }
  return {
    status: response.status,
    errno: body.errno ?? body.result?.data?.errno ?? body.error?.data?.errno,
    cookie: /^__Host-sid=[^;]+/.exec(response.headers.get('set-cookie') ?? '')?.[0],
  }
}

/** Sends a code for `purpose` through the legacy route, past a captcha seeded in Redis. */
export async function sendCode(
  target: PassportTarget,
  mobile: string,
  purpose: 'register' | 'login' | 'reset' = 'register',
): Promise<Answer> {
  const id = randomUUID()
  await target.redis.set(captchaKey(id), 'Q7RT', 300)
  return call(target, '/passport/sms_code', {
    mobile,
    image_code: 'q7rt',
    image_code_id: id,
    purpose,
  })
}
