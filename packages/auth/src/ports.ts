import type { UserDirectory } from '@signup/db/user-directory'
import type { WriteOnCount } from '@signup/kv/rate-limiter'
import type { SmsSender } from '@signup/sms/sender'
import type { RetName } from '@signup/trpc/ret'
import type { SmsCodePurpose } from './schemas.ts'
import type { CaptchaIds } from './captcha-ids.ts'

export type { SmsCodePurpose }

/** The captcha answers, by id (Redis key ImageCode_<id>). */
export interface CaptchaStore {
  /** Stores the answer, replacing any earlier one with that id (a legacy client's id). */
  save(id: string, text: string, ttlSeconds: number): Promise<void>
  /** Stores the answer of a new id only: false, and nothing stored, when the id is taken. */
  create(id: string, text: string, ttlSeconds: number): Promise<boolean>
  /** Gets and deletes in one atomic step: a captcha is used at most once. */
  take(id: string): Promise<string | null>
}

/**
 * The SMS codes of one purpose waiting to be verified, by mobile, and the count of attempts at
 * each (stores.ts names the keys: register keeps the original's SMS_<mobile>). Every operation is
 * a single-key step; the order in which sms-code-check.ts uses them is what makes a check safe
 * (decision record 006).
 */
export interface SmsCodeStore {
  /** What the store keeps for this code: its HMAC (the digits only for register in plain mode). */
  seal(mobile: string, code: string): string
  /** Replaces any earlier code (sealed) and starts a fresh attempt count for the new one. */
  save(mobile: string, code: string, ttlSeconds: number): Promise<void>
  /** The same save as a write the send limits make when they count (decision record 021). */
  saving(mobile: string, code: string, ttlSeconds: number): WriteOnCount
  remove(mobile: string): Promise<void>
  /** The sealed code waiting for this mobile, left in place. */
  peek(mobile: string): Promise<string | null>
  /** Counts one attempt and answers the count; the count lives ttlSeconds from the first. */
  countAttempt(mobile: string, ttlSeconds: number): Promise<number>
  /** Deletes the code only if it is still `sealed`: true for exactly one of concurrent callers. */
  consume(mobile: string, sealed: string): Promise<boolean>
}

/**
 * Every purpose's codes, each apart from the others (decision record 015). The store itself is the
 * register purpose's, the original's SMS_<mobile>; `for` names the purpose.
 */
export interface SmsCodeStores extends SmsCodeStore {
  for(purpose: SmsCodePurpose): SmsCodeStore
}

/** The layered limits a send must pass (decision record 010), named in refusals and logs. */
export type SendLimitName =
  'resend' | 'mobile-hour' | 'mobile-day' | 'ip-hour' | 'prefix-hour' | 'global-hour'

/** What a send is counted against. */
export interface SendSubject {
  mobile: string
  /** Whose resend window the send claims (register's when absent); every other limit is shared. */
  purpose?: SmsCodePurpose
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
  /**
   * null when counted; otherwise the limit that refused and when to retry. A write given (the
   * code's save) is made only when the send counts; when it fails, take rejects, nothing counted.
   */
  take(
    subject: SendSubject,
    write?: WriteOnCount,
  ): Promise<(LimitHit & { limit: SendLimitName }) | null>
  /** Gives back a counted send that never reached the user (provider or storage failure). */
  giveBack(subject: SendSubject): Promise<void>
}

/** Counts captcha images per client, since drawing one costs CPU. */
export interface CaptchaLimiter {
  /** Counts one captcha image for the client; null when allowed. */
  take(clientIp: string | null): Promise<LimitHit | null>
}

/** The limits on failed password sign-ins (decision record 014), named in refusals and logs. */
export type SignInLimitName = 'login-mobile-15min' | 'login-ip-hour'

/** What a password sign-in is counted against. */
export interface SignInSubject {
  mobile: string
  /** The client's address as the server established it; null leaves the per-IP limit out. */
  clientIp: string | null
}

/**
 * Counts password sign-ins before they are checked, atomically across instances: a check that
 * succeeds (or never happened) is given back, so only failures stay counted, and however many
 * run at once no more are checked than the limits allow (decision record 014).
 */
export interface SignInLimiter {
  /** null when counted; otherwise the limit that refused and when to retry. */
  take(subject: SignInSubject): Promise<(LimitHit & { limit: SignInLimitName }) | null>
  giveBack(subject: SignInSubject): Promise<void>
  /** Ends the mobile's count: its owner proved to hold the phone and set a new password. */
  clearMobile(mobile: string): Promise<void>
}

/**
 * Counts the wrong SMS codes tried at a mobile across its codes and their purposes, so that
 * asking for new codes cannot buy unlimited guesses. Taken before a comparison and given back
 * when the code was right: only wrong codes stay counted.
 */
export interface CodeGuessLimiter {
  take(mobile: string): Promise<LimitHit | null>
  giveBack(mobile: string): Promise<void>
}

/** Turns a password into a self-describing hash string; slow on purpose, off the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>
}

/** Checks a password against a stored hash string; as slow as hashing, off the event loop. */
export interface PasswordVerifier {
  /** False for a wrong password, and for a stored string it cannot verify, at the same cost. */
  verify(password: string, stored: string): Promise<boolean>
  /**
   * A hash string no password matches, at the cost new hashes get: what a sign-in checks against
   * when the mobile has no account or no password, so that it costs what a wrong password does.
   */
  readonly decoyHash: string
}

/** Signed-in sessions, by an unguessable id that only the client's cookie holds. */
export interface SessionStore {
  /** Starts a session for the user and answers its new id. */
  create(userId: number, ttlSeconds: number): Promise<string>
  /** The session's user, or null when the id is unknown, expired or malformed. */
  find(id: string): Promise<{ userId: number } | null>
  destroy(id: string): Promise<void>
  /** Ends every session of the user, on whichever instance it began. */
  destroyAllOf(userId: number): Promise<void>
}

/** Where codes, captcha texts and ids come from; crypto in production, scripted in tests. */
export interface RandomSource {
  /** A uniformly random integer in [0, maxExclusive). */
  int(maxExclusive: number): number
  /** `size` random bytes. */
  bytes(size: number): Buffer
}

export interface AuthLogger {
  info(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
  error(fields: Record<string, unknown>, message: string): void
}

/** What a code is sent for (docs/contract.md section 9); each has its own code and window. */
export type SendPurpose = SmsCodePurpose

/** How a user gets signed in: register signs the new user in; the others are section 9's. */
export type SignInMethod = 'register' | 'password' | 'sms-code' | 'reset'

/** Every limit that can refuse a request: the send limits, the captcha images per client and
 * the failed password sign-ins. */
export type LimitName = SendLimitName | SignInLimitName | 'captcha-ip-minute'

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
  attemptLimits: AttemptLimits
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

/** Failed tries allowed per window (decision record 014). */
export interface AttemptLimits {
  /** Failed password sign-ins per mobile per 15 minutes (LOGIN_LIMIT_MOBILE_15MIN). */
  loginMobile15Min: number
  /** Failed password sign-ins per client IP group per hour (LOGIN_LIMIT_IP_HOUR). */
  loginIpHour: number
  /** Wrong SMS codes per mobile per day, across codes and purposes (SMS_VERIFY_LIMIT_MOBILE_DAY). */
  wrongCodeMobileDay: number
}

/** Everything the auth domain needs, wired once per process by the composition root. */
export interface AuthServices {
  captchaStore: CaptchaStore
  /** The ids of the captchas the server issues, which the legacy route never replaces. */
  captchaIds: CaptchaIds
  smsCodeStore: SmsCodeStores
  sendLimiter: SendLimiter
  captchaLimiter: CaptchaLimiter
  signInLimiter: SignInLimiter
  codeGuessLimiter: CodeGuessLimiter
  users: UserDirectory
  passwordHasher: PasswordHasher
  passwordVerifier: PasswordVerifier
  sessions: SessionStore
  sms: SmsSender
  random: RandomSource
  logger: AuthLogger
  metrics: AuthMetrics
  config: AuthConfig
}
