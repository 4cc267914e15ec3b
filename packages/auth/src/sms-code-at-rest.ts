import { createHmac, createSecretKey } from 'node:crypto'
import type { SmsCodePurpose } from './ports.ts'

/** How SMS codes are kept in Redis (docs/contract.md section 5, decision record 017). */
export type SmsCodeStorage = 'hmac' | 'plain'

/** The shortest AUTH_SECRET accepted: 32 bytes, a SHA-256 block's worth of key. */
export const AUTH_SECRET_MIN_BYTES = 32

/** Turns a code into what Redis keeps for it, and what a check compares against. */
export interface SmsCodeSealer {
  readonly seal: (purpose: SmsCodePurpose, mobile: string, code: string) => string
}

/**
 * An HMAC-SHA256 keyed by AUTH_SECRET over purpose, mobile and code: whoever reads Redis learns
 * no code, and a stored value copied to another mobile's or purpose's key matches nothing there.
 * `plain` keeps the original's digits for register codes only, for a cut-over in which the
 * original's own register view still reads SMS_<mobile>.
 */
export function createSmsCodeSealer(
  secret: string,
  storage: SmsCodeStorage = 'hmac',
): SmsCodeSealer {
  if (Buffer.byteLength(secret) < AUTH_SECRET_MIN_BYTES) {
    throw new Error(`AUTH_SECRET must be at least ${AUTH_SECRET_MIN_BYTES} bytes`)
  }
  // Made once: a string key would be copied into a new key object on every seal.
  const key = createSecretKey(Buffer.from(secret, 'utf8'))
  return {
    seal(purpose, mobile, code) {
      if (storage === 'plain' && purpose === 'register') return code
      // NUL cannot occur in a purpose, a mobile or a code, so the fields cannot run together.
      return createHmac('sha256', key).update(`${purpose}\0${mobile}\0${code}`).digest('base64url')
    },
  }
}
