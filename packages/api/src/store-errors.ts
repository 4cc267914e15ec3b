import type { UserDirectory } from '@signup/db/user-directory'
import type { RateLimiter } from '@signup/kv/rate-limiter'
import type { KeyValueStore } from '@signup/kv/store'
import type { StoreMetrics, StoreName } from './metrics.ts'

/** Every operation of each port (the compiler checks the lists are whole). */
const operationsOf = <Port>(all: Record<keyof Port & string, true>) =>
  Object.keys(all) as (keyof Port & string)[]

export const KEY_VALUE_OPERATIONS = operationsOf<KeyValueStore>({
  getDel: true,
  get: true,
  set: true,
  setIfAbsent: true,
  pttl: true,
  del: true,
  setThenDel: true,
  increment: true,
  deleteIfEqual: true,
  expiringSetAdd: true,
  expiringSetMembers: true,
  expiringSetRemove: true,
  ping: true,
  close: true,
})
export const LIMITER_OPERATIONS = operationsOf<RateLimiter>({
  take: true,
  giveBack: true,
  clear: true,
})
export const USER_DIRECTORY_OPERATIONS = operationsOf<UserDirectory>({
  existsByMobile: true,
  create: true,
  findById: true,
  findCredentials: true,
  setPasswordHash: true,
  recordSignIn: true,
})

/** The operation names each store's error series carries. */
export const STORE_OPERATIONS: Record<StoreName, readonly string[]> = {
  redis: [...KEY_VALUE_OPERATIONS, ...LIMITER_OPERATIONS.map((name) => `limiter.${name}`)],
  postgres: USER_DIRECTORY_OPERATIONS,
}

type AsyncMethods<Port> = {
  [Name in keyof Port]: Port[Name] extends (...args: never[]) => Promise<unknown> ? Name : never
}[keyof Port]

/**
 * The port with every operation counting its failures (a rejected promise) before passing them
 * on unchanged. The wrappers are made once, so a call costs one closure more, not a lookup.
 */
export function countingErrors<Port extends object>(
  target: Port,
  operations: readonly (AsyncMethods<Port> & string)[],
  count: (operation: string) => void,
  prefix = '',
): Port {
  const wrapped: Record<string, unknown> = {}
  for (const operation of operations) {
    const method = target[operation] as (...args: unknown[]) => Promise<unknown>
    const name = `${prefix}${operation}`
    wrapped[operation] = (...args: unknown[]) =>
      method.apply(target, args).catch((error: unknown) => {
        count(name)
        throw error
      })
  }
  return wrapped as Port
}

/** The three ports over Postgres and Redis, counting their failures into `metrics`. */
export function countStoreErrors(
  ports: { kv: KeyValueStore; limiter: RateLimiter; users: UserDirectory },
  metrics: StoreMetrics,
): { kv: KeyValueStore; limiter: RateLimiter; users: UserDirectory } {
  const redis = (operation: string) => metrics.error('redis', operation)
  return {
    kv: countingErrors(ports.kv, KEY_VALUE_OPERATIONS, redis),
    limiter: countingErrors(ports.limiter, LIMITER_OPERATIONS, redis, 'limiter.'),
    users: countingErrors(ports.users, USER_DIRECTORY_OPERATIONS, (operation) =>
      metrics.error('postgres', operation),
    ),
  }
}
