import type { SmsSender } from '@signup/sms/sender'

/** The captcha answers, by id (Redis key ImageCode_<id>). */
export interface CaptchaStore {
  save(id: string, text: string, ttlSeconds: number): Promise<void>
  /** Gets and deletes in one atomic step: a captcha is used at most once. */
  take(id: string): Promise<string | null>
}

/** The SMS codes waiting to be verified, by mobile (Redis key SMS_<mobile>). */
export interface SmsCodeStore {
  save(mobile: string, code: string, ttlSeconds: number): Promise<void>
  remove(mobile: string): Promise<void>
}

/** One send per mobile per window, claimed atomically (SET NX EX). */
export interface ResendWindow {
  /** null when claimed; otherwise the seconds until the window ends. */
  claim(mobile: string, seconds: number): Promise<{ retryAfter: number } | null>
  release(mobile: string): Promise<void>
}

export interface UserDirectory {
  existsByMobile(mobile: string): Promise<boolean>
}

/** Where codes, captcha texts and ids come from; crypto in production, scripted in tests. */
export interface RandomSource {
  /** A uniformly random integer in [0, maxExclusive). */
  int(maxExclusive: number): number
  uuid(): string
}

export interface AuthLogger {
  info(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
  error(fields: Record<string, unknown>, message: string): void
}

export interface AuthConfig {
  imageCodeTtlSeconds: number
  smsCodeTtlSeconds: number
  smsResendSeconds: number
}

/** Everything the auth domain needs, wired once per process by the composition root. */
export interface AuthServices {
  captchaStore: CaptchaStore
  smsCodeStore: SmsCodeStore
  resendWindow: ResendWindow
  users: UserDirectory
  sms: SmsSender
  random: RandomSource
  logger: AuthLogger
  config: AuthConfig
}
