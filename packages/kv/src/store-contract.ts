import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KeyValueStore } from './store.ts'

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
      await store.set(key('replace'), 'two', 60)
      expect(await store.get(key('replace'))).toBe('two')
      expect(await store.pttl(key('replace'))).toBeGreaterThan(59_000)
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
      const ttl = await store.pttl(key('short'))
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(1_000)
      await new Promise((resolve) => setTimeout(resolve, 1_150))
      expect(await store.get(key('short'))).toBeNull()
      expect(await store.getDel(key('short'))).toBeNull()
      expect(await store.pttl(key('short'))).toBeNull()
      expect(await store.setIfAbsent(key('short-nx'), 'z', 1)).toBe(true)
      await store.del(key('short-nx'))
    })

    it('del removes keys and counts those that existed', async () => {
      await store.set(key('d1'), '1', 60)
      await store.set(key('d2'), '2', 60)
      expect(await store.del(key('d1'), key('d2'), key('d3'))).toBe(2)
      expect(await store.get(key('d1'))).toBeNull()
      expect(await store.del()).toBe(0)
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
