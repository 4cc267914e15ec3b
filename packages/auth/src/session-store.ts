import { createHash, randomBytes } from 'node:crypto'
import type { KeyValueStore } from '@signup/kv/store'
import type { SessionStore } from './ports.ts'

/** 32 random bytes, base64url: 43 characters, 256 bits that no one can guess. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

const digestOf = (id: string): string => createHash('sha256').update(id).digest('hex')

/**
 * Redis keeps a SHA-256 of the id, not the id: a dump, a replica or a MONITOR log shows which
 * sessions exist but hands none of them out. Single-key operations only, so no hash tag is needed.
 */
export const sessionKey = (id: string): string => `signup:session:${digestOf(id)}`

/**
 * Each user's sessions, by digest (so the index hands none out either), for ending them all at a
 * password reset. An expiring set hash-tagged on the user: each entry lives as long as its
 * session, so a logout need not touch it and it never outgrows the sessions it lists.
 */
export const userSessionsKey = (userId: number): string => `signup:user-sessions:{${userId}}`

const sessionKeyOfDigest = (digest: string): string => `signup:session:${digest}`

interface StoredSession {
  userId: number
  createdAt: string
}

/** Sessions in the key-value store: shared by every server instance and kept across restarts. */
export function createSessionStore(kv: KeyValueStore): SessionStore {
  return {
    async create(userId, ttlSeconds) {
      const id = randomBytes(32).toString('base64url')
      const session: StoredSession = { userId, createdAt: new Date().toISOString() }
      // Indexed before it exists: a session the index does not list could outlive a reset.
      await kv.expiringSetAdd(userSessionsKey(userId), digestOf(id), ttlSeconds)
      await kv.set(sessionKey(id), JSON.stringify(session), ttlSeconds)
      return id
    },
    async find(id) {
      // A malformed cookie is answered without a round trip to the store.
      if (!SESSION_ID.test(id)) return null
      const stored = await kv.get(sessionKey(id))
      if (stored === null) return null
      const userId = parseUserId(stored)
      return userId === null ? null : { userId }
    },
    async destroy(id) {
      // Its index entry expires with it; a reset deleting an ended session is no harm.
      if (SESSION_ID.test(id)) await kv.del(sessionKey(id))
    },
    async destroyAllOf(userId) {
      const index = userSessionsKey(userId)
      const digests = await kv.expiringSetMembers(index)
      if (digests.length === 0) return
      // One DEL per session (each key is its own Cluster slot), written together by pipelining.
      await Promise.all(digests.map((digest) => kv.del(sessionKeyOfDigest(digest))))
      // Only what was ended leaves the index: a session begun meanwhile stays listed.
      await kv.expiringSetRemove(index, ...digests)
    },
  }
}

function parseUserId(stored: string): number | null {
  try {
    const value: unknown = JSON.parse(stored)
    if (typeof value !== 'object' || value === null || !('userId' in value)) return null
    const { userId } = value
    return typeof userId === 'number' && Number.isSafeInteger(userId) ? userId : null
  } catch {
    return null
  }
}
