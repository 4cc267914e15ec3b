import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KeyValueStore } from '../store.ts'

/**
 * The least a TTL of `seconds`, set by a call that started at `since` (a Date.now() taken just
 * before it), can have left by now, in ms: it only loses the time that has passed, so this holds
 * however slow the machine (a few ms of slack for the clocks' rounding to whole milliseconds).
 */
export function leastMsLeft(seconds: number, since: number): number {
  return seconds * 1000 - (Date.now() - since) - 5
}

/**
 * The behaviour every KeyValueStore must have. Runs on the in-process store and on real Redis, so
 * the dev default cannot drift from production.
 */
export function describeKeyValueStoreContract(
  name: string,
  open: () => Promise<KeyValueStore>,
): void {
  describe(`KeyValueStore contract: ${name}`, () => {
    let store: KeyValueStore
    const ns = `contract:${randomUUID()}:`
    const used = new Set<string>()
    const key = (suffix: string): string => {
      used.add(`${ns}${suffix}`)
      return `${ns}${suffix}`
    }

    beforeAll(async () => {
      store = await open()
    })
    afterAll(async () => {
      await store.del(...used)
      await store.close()
    })

    it('set then get returns the value, and a missing key is null', async () => {
      await store.set(key('a'), 'value-a', 60)
      expect(await store.get(key('a'))).toBe('value-a')
      expect(await store.get(key('missing'))).toBeNull()
    })

    it('set replaces a previous value and its lifetime', async () => {
      await store.set(key('replace'), 'one', 1)
      const since = Date.now()
      await store.set(key('replace'), 'two', 60)
      expect(await store.get(key('replace'))).toBe('two')
      expect(await store.pttl(key('replace'))).toBeGreaterThanOrEqual(leastMsLeft(60, since))
    })

    it('getDel returns the value once and deletes it', async () => {
      await store.set(key('once'), 'x', 60)
      expect(await store.getDel(key('once'))).toBe('x')
      expect(await store.getDel(key('once'))).toBeNull()
      expect(await store.get(key('once'))).toBeNull()
    })

    it('getDel gives the value to exactly one of many concurrent callers', async () => {
      await store.set(key('race'), 'prize', 60)
      const answers = await Promise.all(Array.from({ length: 20 }, () => store.getDel(key('race'))))
      expect(answers.filter((answer) => answer === 'prize')).toHaveLength(1)
    })

    it('setIfAbsent creates only when absent, once among concurrent callers', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.setIfAbsent(key('nx'), `v${i}`, 60)),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      const winner = results.indexOf(true)
      expect(await store.get(key('nx'))).toBe(`v${winner}`)
      expect(await store.setIfAbsent(key('nx'), 'later', 60)).toBe(false)
    })

    it('keys expire after their TTL', async () => {
      await store.set(key('short'), 'x', 1)
      expect(await store.setIfAbsent(key('short-nx'), 'y', 1)).toBe(true)
      expect(await store.increment(key('short-count'), 1)).toBe(1)
      expect(await store.increment(key('short-count'), 1)).toBe(2)
      const ttl = await store.pttl(key('short'))
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(1_000)
      await new Promise((resolve) => setTimeout(resolve, 1_150))
      expect(await store.get(key('short'))).toBeNull()
      expect(await store.getDel(key('short'))).toBeNull()
      expect(await store.pttl(key('short'))).toBeNull()
      expect(await store.setIfAbsent(key('short-nx'), 'z', 1)).toBe(true)
      await store.del(key('short-nx'))
      // A counter whose window ended starts again at 1.
      expect(await store.increment(key('short-count'), 1)).toBe(1)
    })

    it('increment counts from 1 and sets the TTL on creation only', async () => {
      const since = Date.now()
      expect(await store.increment(key('count'), 60)).toBe(1)
      expect(await store.increment(key('count'), 1)).toBe(2)
      expect(await store.increment(key('count'), 1)).toBe(3)
      expect(await store.get(key('count'))).toBe('3')
      // The later, shorter TTLs were ignored: the window is the first call's.
      expect(await store.pttl(key('count'))).toBeGreaterThanOrEqual(leastMsLeft(60, since))
    })

    it('increment gives each of many concurrent callers its own count', async () => {
      const since = Date.now()
      const counts = await Promise.all(
        Array.from({ length: 20 }, () => store.increment(key('count-race'), 60)),
      )
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      expect(await store.pttl(key('count-race'))).toBeGreaterThanOrEqual(leastMsLeft(60, since))
    })

    it('increment refuses a non-integer value and a bad TTL, changing nothing', async () => {
      await store.set(key('count-text'), 'not a number', 60)
      await expect(store.increment(key('count-text'), 60)).rejects.toThrow()
      expect(await store.get(key('count-text'))).toBe('not a number')
      await expect(store.increment(key('count-bad-ttl'), 0)).rejects.toThrow()
      await expect(store.increment(key('count-bad-ttl'), 2.5)).rejects.toThrow()
      expect(await store.get(key('count-bad-ttl'))).toBeNull()
    })

    it('deleteIfEqual deletes only the expected value', async () => {
      expect(await store.deleteIfEqual(key('cad'), 'x')).toBe(false)
      await store.set(key('cad'), '123456', 60)
      expect(await store.deleteIfEqual(key('cad'), '654321')).toBe(false)
      expect(await store.get(key('cad'))).toBe('123456')
      expect(await store.deleteIfEqual(key('cad'), '123456')).toBe(true)
      expect(await store.get(key('cad'))).toBeNull()
      expect(await store.deleteIfEqual(key('cad'), '123456')).toBe(false)
    })

    it('deleteIfEqual succeeds for exactly one of many concurrent callers', async () => {
      await store.set(key('cad-race'), 'prize', 60)
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.deleteIfEqual(key('cad-race'), 'prize')),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
    })

    it('deleteIfEqual leaves a value that replaced the expected one', async () => {
      await store.set(key('cad-replaced'), 'old', 60)
      await store.set(key('cad-replaced'), 'new', 60)
      expect(await store.deleteIfEqual(key('cad-replaced'), 'old')).toBe(false)
      expect(await store.get(key('cad-replaced'))).toBe('new')
    })

    it('an expiring set keeps what is added, once each, and removes what is asked', async () => {
      expect(await store.expiringSetMembers(key('set-none'))).toEqual([])
      await store.expiringSetAdd(key('set'), 'a', 60)
      await store.expiringSetAdd(key('set'), 'b', 60)
      await store.expiringSetAdd(key('set'), 'a', 60)
      expect((await store.expiringSetMembers(key('set'))).sort()).toEqual(['a', 'b'])
      await store.expiringSetRemove(key('set'), 'a', 'never-added')
      expect(await store.expiringSetMembers(key('set'))).toEqual(['b'])
      await store.expiringSetRemove(key('set'))
      await store.expiringSetRemove(key('set'), 'b')
      expect(await store.expiringSetMembers(key('set'))).toEqual([])
      expect(await store.pttl(key('set'))).toBeNull()
      await store.expiringSetRemove(key('set-none'), 'x')
    })

    it('an expiring set lives as long as its longest-lived member', async () => {
      await store.expiringSetAdd(key('set-ttl'), 'long', 120)
      await store.expiringSetAdd(key('set-ttl'), 'short', 60)
      expect(await store.pttl(key('set-ttl'))).toBeGreaterThan(119_000)
      // Renewing a member renews the set with it.
      await store.expiringSetAdd(key('set-ttl'), 'short', 600)
      expect(await store.pttl(key('set-ttl'))).toBeGreaterThan(599_000)
      expect(await store.pttl(key('set-ttl'))).toBeLessThanOrEqual(600_000)
    })

    it('an expiring set drops each member at its own expiry, and itself with the last', async () => {
      await store.expiringSetAdd(key('set-expiry'), 'brief', 1)
      await store.expiringSetAdd(key('set-expiry'), 'lasting', 60)
      await store.expiringSetAdd(key('set-gone'), 'brief', 1)
      await expect
        .poll(() => store.expiringSetMembers(key('set-expiry')), { timeout: 10_000 })
        .toEqual(['lasting'])
      await expect.poll(() => store.pttl(key('set-gone')), { timeout: 10_000 }).toBeNull()
      expect(await store.expiringSetMembers(key('set-gone'))).toEqual([])
    })

    it('an expiring set keeps every one of many concurrent adds', async () => {
      const members = Array.from({ length: 20 }, (_, i) => `m${i}`)
      await Promise.all(members.map((member) => store.expiringSetAdd(key('set-race'), member, 60)))
      expect((await store.expiringSetMembers(key('set-race'))).sort()).toEqual([...members].sort())
    })

    it('expiring set operations refuse a key holding a string, and a bad TTL', async () => {
      await store.set(key('set-string'), 'text', 60)
      await expect(store.expiringSetAdd(key('set-string'), 'a', 60)).rejects.toThrow()
      await expect(store.expiringSetMembers(key('set-string'))).rejects.toThrow()
      expect(await store.get(key('set-string'))).toBe('text')
      await expect(store.expiringSetAdd(key('set-bad-ttl'), 'a', 0)).rejects.toThrow()
      await expect(store.expiringSetAdd(key('set-bad-ttl'), 'a', 1.5)).rejects.toThrow()
      expect(await store.expiringSetMembers(key('set-bad-ttl'))).toEqual([])
      // And string operations refuse a set.
      await store.expiringSetAdd(key('set-typed'), 'a', 60)
      await expect(store.get(key('set-typed'))).rejects.toThrow()
      await expect(store.increment(key('set-typed'), 60)).rejects.toThrow()
      expect(await store.expiringSetMembers(key('set-typed'))).toEqual(['a'])
    })

    it('del removes keys and counts those that existed', async () => {
      await store.set(key('d1'), '1', 60)
      await store.set(key('d2'), '2', 60)
      expect(await store.del(key('d1'), key('d2'), key('d3'))).toBe(2)
      expect(await store.get(key('d1'))).toBeNull()
      expect(await store.del()).toBe(0)
    })

    it('setThenDel stores the value with its lifetime and deletes the other key', async () => {
      await store.set(key('std-code'), 'old', 60)
      await store.set(key('std-count'), '3', 60)
      const since = Date.now()
      await store.setThenDel(key('std-code'), 'new', 120, key('std-count'))
      expect(await store.get(key('std-code'))).toBe('new')
      expect(await store.pttl(key('std-code'))).toBeGreaterThanOrEqual(leastMsLeft(120, since))
      expect(await store.get(key('std-count'))).toBeNull()
      // A key that is not there to delete is no error.
      await store.setThenDel(key('std-code'), 'newer', 60, key('std-count'))
      expect(await store.get(key('std-code'))).toBe('newer')
    })

    it('setThenDel refuses a bad TTL, changing nothing', async () => {
      await store.set(key('std-bad-count'), '3', 60)
      await expect(
        store.setThenDel(key('std-bad-code'), 'x', 0, key('std-bad-count')),
      ).rejects.toThrow()
      expect(await store.get(key('std-bad-code'))).toBeNull()
      expect(await store.get(key('std-bad-count'))).toBe('3')
    })

    it('pttl is null for a missing key', async () => {
      expect(await store.pttl(key('nothing'))).toBeNull()
    })

    it('refuses a TTL that is not a positive whole number of seconds', async () => {
      await expect(store.set(key('bad-ttl'), 'x', 0)).rejects.toThrow()
      await expect(store.setIfAbsent(key('bad-ttl'), 'x', 1.5)).rejects.toThrow()
      expect(await store.get(key('bad-ttl'))).toBeNull()
    })

    it('ping answers', async () => {
      await expect(store.ping()).resolves.toBeUndefined()
    })
  })
}
