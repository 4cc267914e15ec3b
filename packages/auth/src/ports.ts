import type { SmsSender } from '@signup/sms/sender'

/** The captcha answers, by id (Redis key ImageCode_<id>). */
export interface CaptchaStore {
  save(id: string, text: string, ttlSeconds: number): Promise<void>
  /** Gets and deletes in one atomic step: a captcha is used at most once. */
  take(id: string): Promise<string | null>
}

/**
 * The SMS codes waiting to be verified, by mobile (Redis key SMS_<mobile>), and the count of
 * attempts at each (signup:sms-attempts:{<mobile>}). Every operation is a single-key step; the
 * order in which register.ts uses them is what makes a check safe (decision record 006).
 */
export interface SmsCodeStore {
  /** Replaces any earlier code and starts a fresh attempt count for the new one. */
  save(mobile: string, code: string, ttlSeconds: number): Promise<void>
  remove(mobile: string): Promise<void>
  /** The code waiting for this mobile, left in place. */
  peek(mobile: string): Promise<string | null>
  /** Counts one attempt and answers the count; the count lives ttlSeconds from the first. */
  countAttempt(mobile: string, ttlSeconds: number): Promise<number>
  /** Deletes the code only if it is still `code`: true for exactly one of concurrent callers. */
  consume(mobile: string, code: string): Promise<boolean>
}

/** One send per mobile per window, claimed atomically (SET NX EX). */
export interface ResendWindow {
  /** null when claimed; otherwise the seconds until the window ends. */
  claim(mobile: string, seconds: number): Promise<{ retryAfter: number } | null>
  release(mobile: string): Promise<void>
}

/** What the signup flow shows of a user: never the password hash. */
export interface UserSummary {
  id: number
  mobile: string
  nickName: string
}

export interface UserDirectory {
  existsByMobile(mobile: string): Promise<boolean>
  /** `taken` when the mobile is registered already, including by a concurrent insert. */
  create(user: {
    mobile: string
    nickName: string
    passwordHash: string
  }): Promise<{ kind: 'created'; user: UserSummary } | { kind: 'taken' }>
  findById(id: number): Promise<UserSummary | null>
}

/** Turns a password into a self-describing hash string; slow on purpose, off the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>
}

/** Signed-in sessions, by an unguessable id that only the client's cookie holds. */
export interface SessionStore {
  /** Starts a session for the user and answers its new id. */
  create(userId: number, ttlSeconds: number): Promise<string>
  /** The session's user, or null when the id is unknown, expired or malformed. */
  find(id: string): Promise<{ userId: number } | null>
  destroy(id: string): Promise<void>
}

/**
 * The session cookie of the current request, whatever the transport: the server implements it
 * over the Cookie and Set-Cookie headers, tests with a plain object.
 */
export interface SessionCookie {
  /** The session id the request carried, or null. */
  readonly id: string | null
  set(id: string, maxAgeSeconds: number): void
  clear(): void
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
  sessionTtlSeconds: number
}

/** Everything the auth domain needs, wired once per process by the composition root. */
export interface AuthServices {
  captchaStore: CaptchaStore
  smsCodeStore: SmsCodeStore
  resendWindow: ResendWindow
  users: UserDirectory
  passwordHasher: PasswordHasher
  sessions: SessionStore
  sms: SmsSender
  random: RandomSource
  logger: AuthLogger
  config: AuthConfig
}
