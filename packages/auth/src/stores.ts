import type { KeyValueStore } from '@signup/kv/store'
import type { CaptchaStore, ResendWindow, SmsCodeStore } from './ports.ts'

/** Key names shared with the original system during a cut-over (CONTRACT section 5). */
export const captchaKey = (id: string): string => `ImageCode_${id}`
export const smsCodeKey = (mobile: string): string => `SMS_${mobile}`
/** New keys are namespaced, with the mobile as Redis Cluster hash tag. */
export const resendKey = (mobile: string): string => `signup:sms-resend:{${mobile}}`

export function createCaptchaStore(kv: KeyValueStore): CaptchaStore {
  return {
    save: (id, text, ttlSeconds) => kv.set(captchaKey(id), text, ttlSeconds),
    take: (id) => kv.getDel(captchaKey(id)),
  }
}

export function createSmsCodeStore(kv: KeyValueStore): SmsCodeStore {
  return {
    save: (mobile, code, ttlSeconds) => kv.set(smsCodeKey(mobile), code, ttlSeconds),
    remove: async (mobile) => {
      await kv.del(smsCodeKey(mobile))
    },
  }
}

export function createResendWindow(kv: KeyValueStore): ResendWindow {
  return {
    claim: async (mobile, seconds) => {
      if (await kv.setIfAbsent(resendKey(mobile), '1', seconds)) return null
      const remainingMs = await kv.pttl(resendKey(mobile))
      // The window may have ended between the two calls; 1 s is then the honest lower bound.
      return { retryAfter: Math.max(1, Math.ceil((remainingMs ?? 0) / 1000)) }
    },
    release: async (mobile) => {
      await kv.del(resendKey(mobile))
    },
  }
}
