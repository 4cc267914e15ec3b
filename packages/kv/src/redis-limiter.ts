import { checkCounters, latestRefusal, storeAfterCount } from './rate-limiter.ts'
import type { LimitRefusal, RateLimiter, WindowCounter, WriteOnCount } from './rate-limiter.ts'
import type { RedisClient } from './redis-store.ts'
import { StoreUnavailableError } from './store.ts'

/**
 * One group's check-and-count, and the write made when it counts. KEYS are the n counters, then
 * the write's key and the key it deletes; ARGV is n, each counter's limit and window, then the
 * write's value and lifetime. Answers 0 when every counter counted the hit, else {index, ms left}
 * of the counter among those at their limit whose window ends last; then nothing is counted or
 * written.
 */
const TAKE_LUA = `
local n = tonumber(ARGV[1])
local counts = n > 0 and redis.call('MGET', unpack(KEYS, 1, n)) or {}
local worst, worstTtl = 0, -1
for i = 1, n do
  local key, limit, window = KEYS[i], tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local count = counts[i]
  if count then
    count = tonumber(count)
    if not count then return redis.error_reply('ERR limiter counter ' .. key .. ' is not a number') end
    if count >= limit then
      local ttl = redis.call('PTTL', key)
      if ttl < 0 then
        -- A counter with no lifetime (made by hand, or persisted) would refuse for ever: it gets
        -- its window from now.
        redis.call('EXPIRE', key, window)
        ttl = window * 1000
      end
      if ttl > worstTtl then worst, worstTtl = i, ttl end
    end
  elseif limit <= 0 then
    local ttl = window * 1000
    if ttl > worstTtl then worst, worstTtl = i, ttl end
  end
end
if worst > 0 then return {worst, worstTtl} end
-- The write before the counts: Redis refuses a script's writes for lack of memory only up to its
-- first, so a write refused aborts the script with nothing counted.
if #KEYS > n then
  redis.call('SET', KEYS[n + 1], ARGV[2 * n + 2], 'EX', ARGV[2 * n + 3])
  redis.call('DEL', KEYS[n + 2])
end
for i = 1, n do
  local key, window = KEYS[i], ARGV[2 * i + 1]
  if counts[i] then
    -- A counter keeps the lifetime it was made with (no PTTL per counter: decision record 021).
    -- Keys do not expire while a script runs, so INCR finds the key MGET read.
    redis.call('INCR', key)
  else
    redis.call('SET', key, 1, 'EX', window)
  end
end
return 0`

/** Gives one hit back on each counter; a counter at 1 is removed rather than left at 0. */
const GIVE_BACK_LUA = `
for _, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count > 1 then redis.call('DECR', key) elseif count == 1 then redis.call('DEL', key) end
end
return 0`

interface LimiterScripts {
  limiterTake(...keyCountThenKeysThenArgs: (string | number)[]): Promise<0 | [number, number]>
  limiterGiveBack(...keyCountThenKeys: (string | number)[]): Promise<number>
}

/**
 * How a take reaches Redis. `single`: every counter of every group in one EVALSHA, atomic as a
 * whole; right for one Redis server, which lets a script touch keys of any slot. `per-group`: one
 * EVALSHA per group (a group shares one hash tag, so one Cluster slot), all issued at once; a
 * group that counted is given back when another refused. The mode of an ioredis Cluster, where a
 * script may touch one slot only (decision records 010 and 019).
 */
export type LimiterMode = 'single' | 'per-group'

export interface RedisLimiterOptions {
  /** Defaults to `per-group` on an ioredis Cluster and `single` on one server. */
  mode?: LimiterMode
}

/**
 * Rate limits over the store's ioredis connection (so its key prefix applies), in the mode above
 * (decision record 010).
 */
export class RedisLimiter implements RateLimiter {
  readonly #redis: RedisClient
  readonly mode: LimiterMode

  constructor(redis: RedisClient, options: RedisLimiterOptions = {}) {
    this.#redis = redis
    this.mode = options.mode ?? (redis.isCluster ? 'per-group' : 'single')
    if (redis.isCluster && this.mode === 'single') {
      // One script over every group would touch several slots: the Cluster refuses it (CROSSSLOT).
      throw new RangeError('RedisLimiter on a Redis Cluster runs per-group, not single')
    }
    redis.defineCommand('limiterTake', { lua: TAKE_LUA })
    redis.defineCommand('limiterGiveBack', { lua: GIVE_BACK_LUA })
  }

  get #scripts(): LimiterScripts {
    return this.#redis as unknown as LimiterScripts
  }

  #takeGroup(group: readonly WindowCounter[], write?: WriteOnCount): Promise<LimitRefusal | null> {
    // Without numberOfKeys in defineCommand, ioredis takes the key count as first argument. The
    // write's keys are KEYS, so the key prefix applies to them as it does to the store's own SET.
    const call: (string | number)[] = [group.length + (write ? 2 : 0)]
    for (const counter of group) call.push(counter.key)
    if (write) call.push(write.key, write.deleteKey)
    call.push(group.length)
    for (const counter of group) call.push(counter.limit, counter.windowSeconds)
    if (write) call.push(write.value, write.ttlSeconds)
    return this.#scripts.limiterTake(...call).then((answer) => {
      if (answer === 0) return null
      const [index, ttl] = answer
      return { name: group[index - 1]?.name ?? 'unknown', retryAfterMs: ttl }
    })
  }

  /** The script calls a take or give-back makes: all counters in one, or one per group. */
  #batches(groups: readonly (readonly WindowCounter[])[]): (readonly WindowCounter[])[] {
    const batches = this.mode === 'single' ? [groups.flat()] : groups
    return batches.filter((batch) => batch.length > 0)
  }

  async take(
    groups: readonly (readonly WindowCounter[])[],
    write?: WriteOnCount,
  ): Promise<LimitRefusal | null> {
    checkCounters(groups, write)
    if (write && this.mode === 'single') {
      // Checked, counted and written in one EVALSHA: one round trip (decision record 021).
      return this.#takeGroup(groups.flat(), write).catch((error: unknown) => {
        throw limiterFailure(error)
      })
    }
    const refusal = await this.#takeGroups(groups)
    if (refusal || !write) return refusal
    // A script touches one Cluster slot, and the write's keys are on others: the store writes once
    // every group counted, and what they counted is returned when it fails.
    return storeAfterCount(this, groups, write).catch((error: unknown) => {
      throw limiterFailure(error)
    })
  }

  async #takeGroups(groups: readonly (readonly WindowCounter[])[]): Promise<LimitRefusal | null> {
    const present = this.#batches(groups)
    const settled = await Promise.allSettled(present.map((group) => this.#takeGroup(group)))
    const counted = present.filter((_, i) => {
      const outcome = settled[i]
      return outcome?.status === 'fulfilled' && outcome.value === null
    })
    const failure = settled.find((outcome) => outcome.status === 'rejected')
    const refusal = latestRefusal(
      settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : null)),
    )
    if (!failure && !refusal) return null
    // All or nothing across groups: what one group counted is returned when another did not. A
    // give-back that fails leaves those limits stricter until their windows end, never looser.
    if (counted.length > 0) await this.giveBack(counted).catch(() => undefined)
    if (failure) throw limiterFailure(failure.reason)
    return refusal
  }

  async giveBack(groups: readonly (readonly WindowCounter[])[]): Promise<void> {
    try {
      await Promise.all(
        this.#batches(groups).map((group) =>
          this.#scripts.limiterGiveBack(group.length, ...group.map((counter) => counter.key)),
        ),
      )
    } catch (error) {
      throw limiterFailure(error)
    }
  }

  async clear(groups: readonly (readonly WindowCounter[])[]): Promise<void> {
    try {
      // One DEL per batch: a group's keys share a slot, so per-group mode stays single-slot.
      await Promise.all(
        this.#batches(groups).map((group) => this.#redis.del(...group.map((c) => c.key))),
      )
    } catch (error) {
      throw limiterFailure(error)
    }
  }
}

/** What every limiter call throws when Redis fails it: the store's one error for an outage. */
function limiterFailure(error: unknown): StoreUnavailableError {
  const message = error instanceof Error ? error.message : String(error)
  return new StoreUnavailableError(`Redis limiter failed: ${message}`, { cause: error })
}
