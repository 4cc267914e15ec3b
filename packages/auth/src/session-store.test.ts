import { MemoryStore } from '@signup/kv/memory-store'
import { describe, expect, it } from 'vitest'
import { createSessionStore, sessionKey, userSessionsKey } from './session-store.ts'

describe('createSessionStore', () => {
  it('indexes each session under its user, by digest: the index hands out no id', async () => {
    const kv = new MemoryStore()
    const sessions = createSessionStore(kv)
    const id = await sessions.create(7, 600)
    expect(userSessionsKey(7)).toBe('signup:user-sessions:{7}')
    const [digest] = await kv.expiringSetMembers(userSessionsKey(7))
    expect(`signup:session:${digest}`).toBe(sessionKey(id))
    expect(digest).not.toContain(id)
    expect(await kv.pttl(userSessionsKey(7))).toBeGreaterThan(599_000)
  })

  it('destroyAllOf ends every session of that user and no other’s', async () => {
    const kv = new MemoryStore()
    const sessions = createSessionStore(kv)
    const mine = await Promise.all([sessions.create(1, 600), sessions.create(1, 60)])
    const theirs = await sessions.create(2, 600)
    await sessions.destroyAllOf(1)
    for (const id of mine) expect(await sessions.find(id)).toBeNull()
    expect(await sessions.find(theirs)).toEqual({ userId: 2 })
    expect(await kv.expiringSetMembers(userSessionsKey(1))).toEqual([])
    // Nothing to end is no error.
    await sessions.destroyAllOf(3)
  })

  it('a session that ended by logout or by its lifetime is no harm to destroyAllOf', async () => {
    let now = 1_000_000
    const kv = new MemoryStore({ now: () => now })
    const sessions = createSessionStore(kv)
    const loggedOut = await sessions.create(1, 600)
    await sessions.create(1, 60)
    const live = await sessions.create(1, 600)
    await sessions.destroy(loggedOut)
    now += 61_000
    // The expired one has left the index by itself; the logged-out one is still listed.
    expect(await kv.expiringSetMembers(userSessionsKey(1))).toHaveLength(2)
    await sessions.destroyAllOf(1)
    expect(await sessions.find(live)).toBeNull()
  })
})
