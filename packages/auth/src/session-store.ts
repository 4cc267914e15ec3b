import { createHash, randomBytes } from 'node:crypto'
import type { KeyValueStore } from '@signup/kv/store'
import type { SessionStore } from './ports.ts'

/** 32 random bytes, base64url: 43 characters, 256 bits that no one can guess. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

/**
 * Redis keeps a SHA-256 of the id, not the id: a dump, a replica or a MONITOR log shows which
 * sessions exist but hands none of them out. Single-key operations only, so no hash tag is needed.
 */
export const sessionKey = (id: string): string =>
  `signup:session:${createHash('sha256').update(id).digest('hex')}`

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
      if (SESSION_ID.test(id)) await kv.del(sessionKey(id))
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
