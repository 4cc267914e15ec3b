import type { WriteOnCount } from '@signup/kv/rate-limiter'
import type { KeyValueStore } from '@signup/kv/store'
import type { CaptchaStore, SmsCodePurpose, SmsCodeStore, SmsCodeStores } from './ports.ts'
import type { SmsCodeSealer } from './sms-code-at-rest.ts'

/** Key names shared with the original system during a cut-over (docs/contract.md section 5). */
export const captchaKey = (id: string): string => `ImageCode_${id}`
export const smsCodeKey = (mobile: string): string => `SMS_${mobile}`
/** New keys are namespaced, with the mobile as Redis Cluster hash tag; the resend window is the
 * per-mobile group's first counter (send-limiter.ts). */
export const resendKey = (mobile: string): string => `signup:sms-resend:{${mobile}}`
export const smsAttemptsKey = (mobile: string): string => `signup:sms-attempts:{${mobile}}`

/** The keys of one purpose's code, resend window and attempt count. */
export interface SmsCodeKeys {
  code(mobile: string): string
  resend(mobile: string): string
  attempts(mobile: string): string
}

/**
 * Each purpose's own keys (decision record 015). Register keeps the names it had, which the
 * original system shares during a cut-over; login and reset codes are new keys, namespaced and
 * hash-tagged on the mobile like the rest.
 */
export function smsCodeKeys(purpose: SmsCodePurpose): SmsCodeKeys {
  if (purpose === 'register') {
    return { code: smsCodeKey, resend: resendKey, attempts: smsAttemptsKey }
  }
  return {
    code: (mobile) => `signup:sms-code:${purpose}:{${mobile}}`,
    resend: (mobile) => `signup:sms-resend:${purpose}:{${mobile}}`,
    attempts: (mobile) => `signup:sms-attempts:${purpose}:{${mobile}}`,
  }
}

export function createCaptchaStore(kv: KeyValueStore): CaptchaStore {
  return {
    save: (id, text, ttlSeconds) => kv.set(captchaKey(id), text, ttlSeconds),
    create: (id, text, ttlSeconds) => kv.setIfAbsent(captchaKey(id), text, ttlSeconds),
    take: (id) => kv.getDel(captchaKey(id)),
  }
}

/**
 * The codes of every purpose, each kept sealed (sms-code-at-rest.ts: an HMAC, never the digits,
 * but for register's in `plain` mode); the store itself is register's (SmsCodeStores).
 */
export function createSmsCodeStore(kv: KeyValueStore, sealer: SmsCodeSealer): SmsCodeStores {
  const storeOf = (purpose: SmsCodePurpose) =>
    purposeStore(kv, smsCodeKeys(purpose), (mobile, code) => sealer.seal(purpose, mobile, code))
  const stores = {
    register: storeOf('register'),
    login: storeOf('login'),
    reset: storeOf('reset'),
  } satisfies Record<SmsCodePurpose, SmsCodeStore>
  return { ...stores.register, for: (purpose) => stores[purpose] }
}

function purposeStore(
  kv: KeyValueStore,
  keys: SmsCodeKeys,
  seal: (mobile: string, code: string) => string,
): SmsCodeStore {
  // The code is replaced first, then its count reset (one round trip on one Redis server; on a
  // Cluster, where the two keys' slots may be two nodes, the reset waits for the SET). A check
  // racing this either read the old code (and can no longer consume it: the value changed) or
  // has its attempt counted against the new one.
  const saving = (mobile: string, code: string, ttlSeconds: number): WriteOnCount => {
    const key = keys.code(mobile)
    const value = seal(mobile, code)
    const deleteKey = keys.attempts(mobile)
    return {
      key,
      value,
      ttlSeconds,
      deleteKey,
      store: () => kv.setThenDel(key, value, ttlSeconds, deleteKey),
    }
  }
  return {
    seal,
    saving,
    save: (mobile, code, ttlSeconds) => saving(mobile, code, ttlSeconds).store(),
    remove: async (mobile) => {
      await kv.del(keys.code(mobile))
    },
    peek: (mobile) => kv.get(keys.code(mobile)),
    countAttempt: (mobile, ttlSeconds) => kv.increment(keys.attempts(mobile), ttlSeconds),
    consume: (mobile, sealed) => kv.deleteIfEqual(keys.code(mobile), sealed),
  }
}
