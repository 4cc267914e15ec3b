import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import { StoreUnavailableError } from '@signup/kv/store'
import type { KeyValueStore } from '@signup/kv/store'
import { TRPCError } from '@trpc/server'
import { createRecordingSender } from '@signup/sms/testing/recording-sender'
import type { RecordingSender } from '@signup/sms/testing/recording-sender'
import { createScryptHasher } from '../password-hash.ts'
import type {
  AuthConfig,
  AuthLogger,
  AuthMetrics,
  AuthServices,
  PasswordHasher,
  PasswordVerifier,
  RandomSource,
} from '../ports.ts'
import type { UserDirectory } from '@signup/db/user-directory'
import { createMemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import { createAuthServices } from '../services.ts'
import { createSmsCodeSealer } from '../sms-code-at-rest.ts'
import type { SmsCodeStorage } from '../sms-code-at-rest.ts'
import type { SmsCodePurpose } from '../ports.ts'
import { cryptoRandom } from '../services.ts'
import { refusalDataOf } from '@signup/trpc/init'
import { RET } from '@signup/trpc/ret'

/** scrypt at a cost tests can afford (2^10, about a millisecond); the format is production's.
 * It verifies too, with a decoy at that same cost. */
export const testPasswordHasher: PasswordHasher & PasswordVerifier = createScryptHasher({
  ln: 10,
  r: 8,
  p: 1,
})

/** A session cookie as a plain object: what the procedure set or cleared is read back from it. */
export function createTestCookie(id: string | null = null) {
  const cookie = {
    id,
    /** The last value set (null once cleared) and its Max-Age. */
    value: id,
    maxAge: undefined as number | undefined,
    set(newId: string, maxAgeSeconds: number) {
      cookie.value = newId
      cookie.maxAge = maxAgeSeconds
    },
    clear() {
      cookie.value = null
      cookie.maxAge = 0
    },
  }
  return cookie
}

export interface LoggedLine {
  level: 'info' | 'warn' | 'error'
  fields: Record<string, unknown>
  message: string
}

export function createRecordingLogger(): AuthLogger & { lines: LoggedLine[] } {
  const lines: LoggedLine[] = []
  const at =
    (level: LoggedLine['level']) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, fields, message })
    }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

/** Metrics that keep each call as `name label,label`, in order, for a test to read back. */
export function createRecordingMetrics(): AuthMetrics & { events: string[] } {
  const events: string[] = []
  return {
    events,
    smsSend: (purpose, outcome) => events.push(`smsSend ${purpose},${outcome}`),
    limitRefusal: (limit) => events.push(`limitRefusal ${limit}`),
    captchaImage: (outcome) => events.push(`captchaImage ${outcome}`),
    signIn: (method, outcome) => events.push(`signIn ${method},${outcome}`),
  }
}

/** The AUTH_SECRET of every test's services and servers (never a production value). */
export const TEST_AUTH_SECRET = 'test-auth-secret-0123456789abcdef0123456789'

/** What Redis holds for a code under TEST_AUTH_SECRET: tests seed codes and check them with it. */
export function sealedSmsCode(
  purpose: SmsCodePurpose,
  mobile: string,
  code: string,
  storage: SmsCodeStorage = 'hmac',
): string {
  return createSmsCodeSealer(TEST_AUTH_SECRET, storage).seal(purpose, mobile, code)
}

/** What an HMAC-sealed code looks like in Redis: 43 base64url characters, never 6 digits. */
export const SEALED_CODE = /^[A-Za-z0-9_-]{43}$/

export const TEST_CONFIG: AuthConfig = {
  imageCodeTtlSeconds: 300,
  smsCodeTtlSeconds: 300,
  smsResendSeconds: 60,
  sessionTtlSeconds: 7 * 86_400,
  limits: {
    mobileHour: 5,
    mobileDay: 10,
    ipHour: 20,
    prefixHour: 30,
    globalHour: 1000,
    captchaIpMinute: 30,
  },
  attemptLimits: { loginMobile15Min: 10, loginIpHour: 100, wrongCodeMobileDay: 10 },
  testNumbers: new Map(),
}

/**
 * Services over the given store (in-process by default) with a recording sender, logger and
 * metrics.
 */
export function createTestServices(
  overrides: {
    kv?: KeyValueStore
    /** In process by default; a MemoryLimiter on a test clock lets windows end at once. */
    limiter?: MemoryLimiter
    users?: UserDirectory
    sms?: RecordingSender
    random?: RandomSource
    config?: Partial<AuthConfig>
    passwordHasher?: PasswordHasher
    passwordVerifier?: PasswordVerifier
    smsCodeStorage?: SmsCodeStorage
  } = {},
) {
  const metrics = createRecordingMetrics()
  const kv = overrides.kv ?? new MemoryStore()
  const limiter = overrides.limiter ?? new MemoryLimiter()
  const sms = overrides.sms ?? createRecordingSender()
  const logger = createRecordingLogger()
  const users = overrides.users ?? createMemoryUserDirectory()
  const services: AuthServices = createAuthServices({
    kv,
    limiter,
    users,
    sms,
    logger,
    metrics,
    config: { ...TEST_CONFIG, ...overrides.config },
    authSecret: TEST_AUTH_SECRET,
    smsCodeStorage: overrides.smsCodeStorage ?? 'hmac',
    random: overrides.random ?? cryptoRandom,
    passwordHasher: overrides.passwordHasher ?? testPasswordHasher,
    passwordVerifier: overrides.passwordVerifier ?? testPasswordHasher,
  })
  return { services, kv, limiter, sms, logger, users, metrics }
}

/** What a verifier was asked to check a password against, in order. */
export interface VerifierCall {
  stored: string
  matched: boolean
}

/**
 * A PasswordVerifier that records every check it is asked to run, around a real one: a test sees
 * what work a sign-in made the hasher do (which hash string, at which cost) without a clock.
 */
export function countingVerifier(inner: PasswordVerifier = testPasswordHasher) {
  const calls: VerifierCall[] = []
  const verifier: PasswordVerifier = {
    decoyHash: inner.decoyHash,
    async verify(password, stored) {
      const matched = await inner.verify(password, stored)
      calls.push({ stored, matched })
      return matched
    },
  }
  return { verifier, calls }
}

/** The cost a PHC scrypt string asks for (`ln=15,r=8,p=3`) and its salt and key lengths. */
export function scryptCostOf(stored: string): string | null {
  const match = /^\$scrypt\$(ln=\d+,r=\d+,p=\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored)
  return match ? `${match[1]} salt:${match[2]?.length} key:${match[3]?.length}` : null
}

/** Awaits a call that must be refused; answers the refusal's data (errno, errmsg, field,
 * retryAfter) and its tRPC code. */
export async function refusal(call: Promise<unknown>) {
  const error = await call.then(
    () => {
      throw new Error('expected a refusal, got a success')
    },
    (caught: unknown) => caught,
  )
  if (!(error instanceof TRPCError)) throw error
  return { code: error.code, ...refusalDataOf(error) }
}

/** The store with `methods` scripted to fail as an unreachable Redis would; the rest work. */
export function failing(kv: KeyValueStore, methods: (keyof KeyValueStore)[]): KeyValueStore {
  return new Proxy(kv, {
    get(target, property, receiver) {
      if (methods.includes(property as keyof KeyValueStore)) {
        return () => Promise.reject(new StoreUnavailableError('scripted outage'))
      }
      const value: unknown = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value
    },
  })
}

/**
 * The least a window of `seconds`, opened by a call that started at `since` (a Date.now() taken
 * just before it), can have left by now, in ms. A TTL only loses the time that has passed, so this
 * holds however slow the machine, where a fixed bound such as "more than 59 s of 60" does not; a
 * few ms of slack cover the two clocks' rounding to whole milliseconds.
 */
export function leastMsLeft(seconds: number, since: number): number {
  return seconds * 1000 - (Date.now() - since) - 5
}

/** leastMsLeft in whole seconds, for a retryAfter (which rounds the ms left up). */
export function leastSecondsLeft(seconds: number, since: number): number {
  return Math.floor(leastMsLeft(seconds, since) / 1000)
}

/** The errno a call ends with: 0 for success. */
export async function outcome(call: Promise<unknown>): Promise<number> {
  try {
    await call
    return RET.OK
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error
    return refusalDataOf(error).errno
  }
}
