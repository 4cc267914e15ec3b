/** What a store answered to its ping: in time, with an error, or not within the deadline. */
export type StoreState = 'ok' | 'down' | 'timeout'

/** What the stores answered: the basis of /healthz (docs/contract.md sections 3 and 11). */
export interface StoreHealth {
  ok: boolean
  checks: { postgres: StoreState; redis: StoreState }
}

/**
 * Each ping gets this long, all at once, so /healthz answers within a second even when a store
 * accepts connections and never answers (pg alone waits 2 s to connect, ioredis 2 s a command).
 */
export const HEALTH_CHECK_TIMEOUT_MS = 800

/** Pings every store at once; a ping still pending at the deadline is a `timeout`. */
export async function checkStores(
  pings: Record<keyof StoreHealth['checks'], () => Promise<void>>,
  timeoutMs = HEALTH_CHECK_TIMEOUT_MS,
): Promise<StoreHealth> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const check = (ping: () => Promise<void>): Promise<StoreState> =>
    Promise.race([
      // A ping that throws at once (not a promise) is a store that is down, too.
      Promise.resolve()
        .then(ping)
        .then(
          () => 'ok' as const,
          () => 'down' as const,
        ),
      deadline,
    ])
  try {
    const [postgres, redis] = await Promise.all([check(pings.postgres), check(pings.redis)])
    return { ok: postgres === 'ok' && redis === 'ok', checks: { postgres, redis } }
  } finally {
    clearTimeout(timer)
  }
}
