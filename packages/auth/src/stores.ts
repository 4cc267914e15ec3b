import type { KeyValueStore } from '@signup/kv/store'
import type { CaptchaStore, SmsCodeStore } from './ports.ts'

/** Key names shared with the original system during a cut-over (docs/contract.md section 5). */
export const captchaKey = (id: string): string => `ImageCode_${id}`
export const smsCodeKey = (mobile: string): string => `SMS_${mobile}`
/** New keys are namespaced, with the mobile as Redis Cluster hash tag; the resend window is the
 * per-mobile group's first counter (send-limiter.ts). */
export const resendKey = (mobile: string): string => `signup:sms-resend:{${mobile}}`
export const smsAttemptsKey = (mobile: string): string => `signup:sms-attempts:{${mobile}}`

export function createCaptchaStore(kv: KeyValueStore): CaptchaStore {
  return {
    save: (id, text, ttlSeconds) => kv.set(captchaKey(id), text, ttlSeconds),
    take: (id) => kv.getDel(captchaKey(id)),
  }
}

export function createSmsCodeStore(kv: KeyValueStore): SmsCodeStore {
  return {
    save: async (mobile, code, ttlSeconds) => {
      // The code is replaced first, then its count reset; both go out in this order on one
      // connection, in one round trip. A check racing this either read the old code (and can no
      // longer consume it: the value changed) or has its attempt counted against the new one.
      await Promise.all([
        kv.set(smsCodeKey(mobile), code, ttlSeconds),
        kv.del(smsAttemptsKey(mobile)),
      ])
    },
    remove: async (mobile) => {
      await kv.del(smsCodeKey(mobile))
    },
    peek: (mobile) => kv.get(smsCodeKey(mobile)),
    countAttempt: (mobile, ttlSeconds) => kv.increment(smsAttemptsKey(mobile), ttlSeconds),
    consume: (mobile, code) => kv.deleteIfEqual(smsCodeKey(mobile), code),
  }
}
