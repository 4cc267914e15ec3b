import { randomBytes, randomInt } from 'node:crypto'
import type { RateLimiter } from '@signup/kv/rate-limiter'
import type { KeyValueStore } from '@signup/kv/store'
import type { SmsSender } from '@signup/sms/sender'
import { createScryptHasher } from './password-hash.ts'
import { noAuthMetrics } from './metrics.ts'
import type {
  AuthConfig,
  AuthLogger,
  AuthMetrics,
  AuthServices,
  PasswordHasher,
  PasswordVerifier,
  RandomSource,
} from './ports.ts'
import type { UserDirectory } from '@signup/db/user-directory'
import { createSessionStore } from './session-store.ts'
import { createCaptchaLimiter, createSendLimiter } from './send-limiter.ts'
import { createCodeGuessLimiter, createSignInLimiter } from './sign-in-limiter.ts'
import { createCaptchaStore, createSmsCodeStore } from './stores.ts'
import { createSmsCodeSealer } from './sms-code-at-rest.ts'
import { createCaptchaIds } from './captcha-ids.ts'
import type { SmsCodeStorage } from './sms-code-at-rest.ts'

/** Codes, captcha texts and ids from the operating system's CSPRNG. */
export const cryptoRandom: RandomSource = {
  int: (maxExclusive) => randomInt(maxExclusive),
  bytes: (size) => randomBytes(size),
}

/** Builds the domain's services over one key-value store, one user directory and one sender. */
export function createAuthServices(options: {
  kv: KeyValueStore
  /** Redis in production (one script per group), in process for the dev default. */
  limiter: RateLimiter
  users: UserDirectory
  sms: SmsSender
  logger: AuthLogger
  config: AuthConfig
  /** What /metrics counts; nothing unless given. */
  metrics?: AuthMetrics
  /** Key of the stored codes' HMAC (AUTH_SECRET, at least 32 bytes). */
  authSecret: string
  /** `hmac` unless a cut-over asks for the original's plain register codes. */
  smsCodeStorage?: SmsCodeStorage
  random?: RandomSource
  /** Production's scrypt cost unless given; tests pass a cheap one. */
  passwordHasher?: PasswordHasher
  /** Production's scrypt unless given; its decoy should cost what passwordHasher's hashes do. */
  passwordVerifier?: PasswordVerifier
}): AuthServices {
  // Cheap to make: the decoy is random bytes, no hash is computed.
  const scrypt = createScryptHasher()
  const random = options.random ?? cryptoRandom
  return {
    captchaStore: createCaptchaStore(options.kv),
    captchaIds: createCaptchaIds(options.authSecret, (size) => random.bytes(size)),
    smsCodeStore: createSmsCodeStore(
      options.kv,
      createSmsCodeSealer(options.authSecret, options.smsCodeStorage),
    ),
    sendLimiter: createSendLimiter(options.limiter, options.config, options.logger),
    captchaLimiter: createCaptchaLimiter(options.limiter, options.config),
    signInLimiter: createSignInLimiter(options.limiter, options.config),
    codeGuessLimiter: createCodeGuessLimiter(options.limiter, options.config),
    sessions: createSessionStore(options.kv),
    passwordHasher: options.passwordHasher ?? scrypt,
    passwordVerifier: options.passwordVerifier ?? scrypt,
    users: options.users,
    sms: options.sms,
    logger: options.logger,
    metrics: options.metrics ?? noAuthMetrics,
    config: options.config,
    random,
  }
}
