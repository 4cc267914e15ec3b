import { MemoryStore } from '@signup/kv/memory-store'
import type { KeyValueStore } from '@signup/kv/store'
import { createRecordingSender } from '@signup/sms/recording-sender'
import type { RecordingSender } from '@signup/sms/recording-sender'
import type { AuthConfig, AuthLogger, AuthServices, RandomSource, UserDirectory } from './ports.ts'
import { createAuthServices } from './services.ts'
import { cryptoRandom } from './services.ts'

/** A user directory held in memory: the stand-in for Postgres in the pure core tests. */
export function createMemoryUsers(mobiles: Iterable<string> = []): UserDirectory & {
  add(mobile: string): void
} {
  const known = new Set(mobiles)
  return {
    existsByMobile: (mobile) => Promise.resolve(known.has(mobile)),
    add: (mobile) => {
      known.add(mobile)
    },
  }
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

export const TEST_CONFIG: AuthConfig = {
  imageCodeTtlSeconds: 300,
  smsCodeTtlSeconds: 300,
  smsResendSeconds: 60,
}

/** Services over the given store (in-process by default) with a recording sender and logger. */
export function createTestServices(
  overrides: {
    kv?: KeyValueStore
    users?: UserDirectory
    sms?: RecordingSender
    random?: RandomSource
    config?: Partial<AuthConfig>
  } = {},
) {
  const kv = overrides.kv ?? new MemoryStore()
  const sms = overrides.sms ?? createRecordingSender()
  const logger = createRecordingLogger()
  const users = overrides.users ?? createMemoryUsers()
  const services: AuthServices = createAuthServices({
    kv,
    users,
    sms,
    logger,
    config: { ...TEST_CONFIG, ...overrides.config },
    random: overrides.random ?? cryptoRandom,
  })
  return { services, kv, sms, logger, users }
}
