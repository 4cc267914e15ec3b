import { randomInt, randomUUID } from 'node:crypto'
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
  RandomSource,
} from './ports.ts'
import type { UserDirectory } from '@signup/db/user-directory'
import { createSessionStore } from './session-store.ts'
import { createCaptchaLimiter, createSendLimiter } from './send-limiter.ts'
import { createCaptchaStore, createSmsCodeStore } from './stores.ts'

/** Codes, captcha texts and ids from the operating system's CSPRNG. */
export const cryptoRandom: RandomSource = {
  int: (maxExclusive) => randomInt(maxExclusive),
  uuid: () => randomUUID(),
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
  random?: RandomSource
  /** Production's scrypt cost unless given; tests pass a cheap one. */
  passwordHasher?: PasswordHasher
}): AuthServices {
  return {
    captchaStore: createCaptchaStore(options.kv),
    smsCodeStore: createSmsCodeStore(options.kv),
    sendLimiter: createSendLimiter(options.limiter, options.config, options.logger),
    captchaLimiter: createCaptchaLimiter(options.limiter, options.config),
    sessions: createSessionStore(options.kv),
    passwordHasher: options.passwordHasher ?? createScryptHasher(),
    users: options.users,
    sms: options.sms,
    logger: options.logger,
    metrics: options.metrics ?? noAuthMetrics,
    config: options.config,
    random: options.random ?? cryptoRandom,
  }
}
