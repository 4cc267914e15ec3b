import type { UserDirectory } from '@signup/db/user-directory'
import type { SmsSender } from '@signup/sms/sender'
import type { RetName } from '@signup/trpc/ret'

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

/** The layered limits a send must pass (decision record 010), named in refusals and logs. */
export type SendLimitName =
  'resend' | 'mobile-hour' | 'mobile-day' | 'ip-hour' | 'prefix-hour' | 'global-hour'

/** What a send is counted against. */
export interface SendSubject {
  mobile: string
  /** The client's address as the server established it; null leaves the per-IP limit out. */
  clientIp: string | null
  /** A configured test number: exempt from the per-mobile and per-range limits. */
  testNumber: boolean
}

export interface LimitHit {
  limit: string
  /** Whole seconds until a retry can pass this limit (at least 1). */
  retryAfter: number
}

/**
 * Counts sends against their limits, atomically: a send is counted against every
 * limit that applies, or, when one refuses, against none.
 */
export interface SendLimiter {
  /** null when counted; otherwise the limit that refused and when to retry. */
  take(subject: SendSubject): Promise<(LimitHit & { limit: SendLimitName }) | null>
  /** Gives back a counted send that never reached the user (provider or storage failure). */
  giveBack(subject: SendSubject): Promise<void>
}

/** Counts captcha images per client, since drawing one costs CPU. */
export interface CaptchaLimiter {
  /** Counts one captcha image for the client; null when allowed. */
  take(clientIp: string | null): Promise<LimitHit | null>
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

/** What a code is sent for (docs/contract.md section 9); each has its own code and window. */
export type SendPurpose = 'register' | 'login' | 'reset'

/** How a user gets signed in: register signs the new user in; the others are section 9's. */
export type SignInMethod = 'register' | 'password' | 'sms-code' | 'reset'

/** Every limit that can refuse a request: the send limits and the captcha images per client. */
export type LimitName = SendLimitName | 'captcha-ip-minute'

/** How a call of the core ended, by the errno table's name: OK or the refusal. */
export type Outcome = RetName

/**
 * What the core counts for /metrics (docs/contract.md section 11). Every argument is a name from a
 * fixed set, never a mobile, an address or an id; the composition root puts Prometheus behind it.
 */
export interface AuthMetrics {
  /** One send that passed input validation, by purpose and outcome. */
  smsSend(purpose: SendPurpose, outcome: Outcome): void
  /** A request refused by a limit (REQERR), by the limit that refused it. */
  limitRefusal(limit: LimitName): void
  /** One captcha image asked for, by outcome. */
  captchaImage(outcome: Outcome): void
  /** One sign-in (register included), by method and outcome. */
  signIn(method: SignInMethod, outcome: Outcome): void
}

export interface AuthConfig {
  imageCodeTtlSeconds: number
  smsCodeTtlSeconds: number
  smsResendSeconds: number
  sessionTtlSeconds: number
  limits: SendLimits
  /** Mobiles that never reach a provider and always get their fixed code. */
  testNumbers: ReadonlyMap<string, string>
}

/** Sends (and captchas) allowed per window; the resend window is smsResendSeconds. */
export interface SendLimits {
  mobileHour: number
  mobileDay: number
  ipHour: number
  prefixHour: number
  globalHour: number
  captchaIpMinute: number
}

/** Everything the auth domain needs, wired once per process by the composition root. */
export interface AuthServices {
  captchaStore: CaptchaStore
  smsCodeStore: SmsCodeStore
  sendLimiter: SendLimiter
  captchaLimiter: CaptchaLimiter
  users: UserDirectory
  passwordHasher: PasswordHasher
  sessions: SessionStore
  sms: SmsSender
  random: RandomSource
  logger: AuthLogger
  metrics: AuthMetrics
  config: AuthConfig
}
