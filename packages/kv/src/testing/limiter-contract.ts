import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RateLimiter, WindowCounter, WriteOnCount } from '../rate-limiter.ts'
import { StoreUnavailableError } from '../store.ts'
import type { KeyValueStore } from '../store.ts'
import { leastMsLeft } from './store-contract.ts'

/** Where every key of the contract lives, under the store's own prefix. */
export const LIMITER_CONTRACT_KEYS = 'limiter-contract:'

export interface LimiterUnderTest {
  limiter: RateLimiter
  /** A counter's count and milliseconds left, read beside the limiter. */
  peek(key: string): Promise<{ count: number; ttlMs: number } | null>
  /** The store on the limiter's keys: writes made on count are read back through it. */
  store: KeyValueStore
  /**
   * A key outside LIMITER_CONTRACT_KEYS that the limiter's own write fails on (Redis refuses it
   * to the limiter's connection); a limiter that writes through the store fails there instead.
   */
  unwritableKey(name: string): string
  close(): Promise<void>
}

/**
 * The behaviour every RateLimiter must have. Runs on the in-process limiter and on real Redis, so
 * the dev default cannot drift from production.
 */
export function describeRateLimiterContract(
  name: string,
  open: () => Promise<LimiterUnderTest>,
): void {
  describe(`RateLimiter contract: ${name}`, () => {
    let subject: LimiterUnderTest
    const ns = `${LIMITER_CONTRACT_KEYS}${randomUUID()}:`
    const counter = (
      suffix: string,
      limit: number,
      windowSeconds = 60,
      tag = suffix,
    ): WindowCounter => ({ name: suffix, key: `${ns}${suffix}:{${tag}}`, limit, windowSeconds })

    /** A code-like write (SET EX, then DEL of its attempt count) made through the store. */
    const write = (suffix: string, value: string, ttlSeconds = 120): WriteOnCount => {
      const key = `${ns}${suffix}`
      const deleteKey = `${ns}${suffix}:attempts`
      return {
        key,
        value,
        ttlSeconds,
        deleteKey,
        store: () => subject.store.setThenDel(key, value, ttlSeconds, deleteKey),
      }
    }

    beforeAll(async () => {
      subject = await open()
    })
    afterAll(async () => {
      await subject.close()
    })

    it('counts a hit on every counter, with the window starting at the first hit', async () => {
      const a = counter('count-a', 3, 60, 'count')
      const b = counter('count-b', 3, 120, 'count')
      const since = Date.now()
      expect(await subject.limiter.take([[a, b]])).toBeNull()
      expect(await subject.limiter.take([[a, b]])).toBeNull()
      expect(await subject.peek(a.key)).toMatchObject({ count: 2 })
      expect((await subject.peek(a.key))?.ttlMs).toBeGreaterThanOrEqual(leastMsLeft(60, since))
      expect((await subject.peek(b.key))?.ttlMs).toBeGreaterThanOrEqual(leastMsLeft(120, since))
    })

    it('refuses at the limit with the ms left, and a refusal counts nothing', async () => {
      const a = counter('limit-a', 2, 60, 'limit')
      const b = counter('limit-b', 10, 60, 'limit')
      const since = Date.now()
      expect(await subject.limiter.take([[a, b]])).toBeNull()
      expect(await subject.limiter.take([[a, b]])).toBeNull()
      const refusal = await subject.limiter.take([[a, b]])
      expect(refusal?.name).toBe('limit-a')
      expect(refusal?.retryAfterMs).toBeGreaterThanOrEqual(leastMsLeft(60, since))
      expect(refusal?.retryAfterMs).toBeLessThanOrEqual(60_000)
      expect(await subject.peek(a.key)).toMatchObject({ count: 2 })
      expect(await subject.peek(b.key)).toMatchObject({ count: 2 })
    })

    it('names the refusing counter whose window ends last', async () => {
      const short = counter('last-short', 1, 60, 'last')
      const long = counter('last-long', 1, 3600, 'last')
      const since = Date.now()
      expect(await subject.limiter.take([[short, long]])).toBeNull()
      const refusal = await subject.limiter.take([[short, long]])
      expect(refusal?.name).toBe('last-long')
      expect(refusal?.retryAfterMs).toBeGreaterThanOrEqual(leastMsLeft(3600, since))
    })

    it('is all or nothing across groups: a refusing group leaves the others uncounted', async () => {
      const free = counter('groups-free', 10)
      const full = counter('groups-full', 1)
      const alsoFree = counter('groups-also-free', 10)
      expect(await subject.limiter.take([[full]])).toBeNull()
      const refusal = await subject.limiter.take([[free], [full], [alsoFree]])
      expect(refusal?.name).toBe('groups-full')
      expect(await subject.peek(free.key)).toBeNull()
      expect(await subject.peek(alsoFree.key)).toBeNull()
      expect(await subject.peek(full.key)).toMatchObject({ count: 1 })
    })

    it('a limit of 0 always refuses', async () => {
      const closed = counter('closed', 0)
      expect((await subject.limiter.take([[closed]]))?.name).toBe('closed')
    })

    it('giveBack returns one hit, and a counter at one is removed', async () => {
      const a = counter('give-a', 2)
      const b = counter('give-b', 2)
      await subject.limiter.take([[a], [b]])
      await subject.limiter.take([[a]])
      await subject.limiter.giveBack([[a], [b]])
      expect(await subject.peek(a.key)).toMatchObject({ count: 1 })
      expect(await subject.peek(b.key)).toBeNull()
      // Nothing to give back is no error and creates nothing.
      await subject.limiter.giveBack([[b]])
      expect(await subject.peek(b.key)).toBeNull()
      expect(await subject.limiter.take([[a]])).toBeNull()
    })

    it('clear ends the windows of every counter given, in every group, and only those', async () => {
      const a = counter('clear-a', 1)
      const b = counter('clear-b', 1)
      const kept = counter('clear-kept', 1)
      expect(await subject.limiter.take([[a], [b], [kept]])).toBeNull()
      expect((await subject.limiter.take([[a]]))?.name).toBe('clear-a')
      await subject.limiter.clear([[a], [b]])
      expect(await subject.peek(a.key)).toBeNull()
      expect(await subject.peek(b.key)).toBeNull()
      expect(await subject.peek(kept.key)).toMatchObject({ count: 1 })
      expect(await subject.limiter.take([[a], [b]])).toBeNull()
      // Clearing a counter that has no window is no error and creates nothing.
      await subject.limiter.clear([[counter('clear-none', 1)]])
      expect(await subject.peek(`${ns}clear-none:{clear-none}`)).toBeNull()
    })

    it('admits exactly the limit among many concurrent takes', async () => {
      const a = counter('race', 5)
      const results = await Promise.all(
        Array.from({ length: 20 }, () => subject.limiter.take([[a], [counter('race-other', 100)]])),
      )
      expect(results.filter((result) => result === null)).toHaveLength(5)
      expect(await subject.peek(a.key)).toMatchObject({ count: 5 })
      expect(await subject.peek(`${ns}race-other:{race-other}`)).toMatchObject({ count: 5 })
    })

    it('a window that ended starts again', async () => {
      const a = counter('reset', 1, 1)
      expect(await subject.limiter.take([[a]])).toBeNull()
      expect((await subject.limiter.take([[a]]))?.retryAfterMs).toBeLessThanOrEqual(1_000)
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      expect(await subject.limiter.take([[a]])).toBeNull()
    })

    it('refuses a bad limit or window, counting nothing', async () => {
      const good = counter('bad-good', 5, 60, 'bad')
      await expect(
        subject.limiter.take([[good, { ...counter('bad', 1, 60, 'bad'), windowSeconds: 0 }]]),
      ).rejects.toThrow(/windowSeconds/)
      await expect(subject.limiter.take([[{ ...counter('bad', 1), limit: 1.5 }]])).rejects.toThrow(
        RangeError,
      )
      expect(await subject.peek(good.key)).toBeNull()
    })

    it('makes the write when the take counts: the value with its lifetime, the other key deleted', async () => {
      const a = counter('write-a', 5, 60, 'write')
      const b = counter('write-b', 5)
      const code = write('write-code', 'sealed-1')
      await subject.store.set(code.deleteKey, '3', 60)
      const since = Date.now()
      expect(await subject.limiter.take([[a], [b]], code)).toBeNull()
      expect(await subject.store.get(code.key)).toBe('sealed-1')
      expect(await subject.store.pttl(code.key)).toBeGreaterThanOrEqual(leastMsLeft(120, since))
      expect(await subject.store.get(code.deleteKey)).toBeNull()
      expect(await subject.peek(a.key)).toMatchObject({ count: 1 })
      expect(await subject.peek(b.key)).toMatchObject({ count: 1 })
      // A later write replaces the value.
      expect(await subject.limiter.take([[a], [b]], write('write-code', 'sealed-2'))).toBeNull()
      expect(await subject.store.get(code.key)).toBe('sealed-2')
    })

    it('a take with no counters still makes its write', async () => {
      const code = write('write-alone', 'sealed')
      expect(await subject.limiter.take([], code)).toBeNull()
      expect(await subject.store.get(code.key)).toBe('sealed')
    })

    it('a refusal writes nothing and deletes nothing, in whichever group it is', async () => {
      const free = counter('nowrite-free', 10)
      const full = counter('nowrite-full', 1)
      const code = write('nowrite-code', 'first')
      expect(await subject.limiter.take([[full]], code)).toBeNull()
      await subject.store.set(code.deleteKey, '2', 60)
      const refusal = await subject.limiter.take([[free], [full]], write('nowrite-code', 'second'))
      expect(refusal?.name).toBe('nowrite-full')
      expect(await subject.store.get(code.key)).toBe('first')
      expect(await subject.store.get(code.deleteKey)).toBe('2')
      expect(await subject.peek(free.key)).toBeNull()
    })

    it('only the takes that count write, among many concurrent ones', async () => {
      const a = counter('write-race', 3)
      const codes = Array.from({ length: 12 }, (_, i) => write(`write-race-code-${i}`, `v${i}`))
      const results = await Promise.all(codes.map((code) => subject.limiter.take([[a]], code)))
      const written = await Promise.all(codes.map((code) => subject.store.get(code.key)))
      expect(results.filter((result) => result === null)).toHaveLength(3)
      expect(written.map((value) => value !== null)).toEqual(results.map((r) => r === null))
    })

    it('a write that fails gives back what the take counted and rejects', async () => {
      const a = counter('badwrite-a', 2, 60, 'badwrite')
      const b = counter('badwrite-b', 2)
      expect(await subject.limiter.take([[a], [b]])).toBeNull()
      const key = subject.unwritableKey('badwrite-code')
      const failing: WriteOnCount = {
        key,
        value: 'sealed',
        ttlSeconds: 60,
        deleteKey: `${ns}badwrite-code:attempts`,
        store: () => Promise.reject(new StoreUnavailableError('scripted outage')),
      }
      await expect(subject.limiter.take([[a], [b]], failing)).rejects.toBeInstanceOf(
        StoreUnavailableError,
      )
      expect(await subject.peek(a.key)).toMatchObject({ count: 1 })
      expect(await subject.peek(b.key)).toMatchObject({ count: 1 })
      expect(await subject.store.get(key)).toBeNull()
      expect(await subject.limiter.take([[a], [b]])).toBeNull()
    })

    it('refuses a write with a bad lifetime, counting and writing nothing', async () => {
      const a = counter('badttl', 5)
      for (const ttlSeconds of [0, -1, 1.5, Number.NaN]) {
        const code = write('badttl-code', 'sealed', ttlSeconds)
        await expect(subject.limiter.take([[a]], code)).rejects.toThrow(/ttlSeconds/)
        expect(await subject.store.get(code.key)).toBeNull()
      }
      expect(await subject.peek(a.key)).toBeNull()
    })

    it('refuses a group whose keys are on different Cluster slots, counting nothing', async () => {
      const a = counter('slot-a', 5, 60, 'slot-a')
      const b = counter('slot-b', 5, 60, 'slot-b')
      await expect(subject.limiter.take([[a, b]])).rejects.toThrow(/different Redis Cluster slots/)
      expect(await subject.peek(a.key)).toBeNull()
      expect(await subject.peek(b.key)).toBeNull()
    })
  })
}
