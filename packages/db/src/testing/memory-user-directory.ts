import type { UserDirectory, UserSummary } from '../user-directory.ts'

/** A UserDirectory whose registered mobiles can be added at run time, and whose stored hashes a
 * test can read. */
export interface MemoryUserDirectory extends UserDirectory {
  add(mobile: string): void
  /** The stored hash, for tests that check what was stored. */
  passwordHashOf(mobile: string): string | undefined
}

/**
 * The stand-in for Postgres in the pure core tests: users in a Map, no validation, gone with the
 * process. The same UserDirectory port as createUserDirectory.
 */
export function createMemoryUserDirectory(mobiles: Iterable<string> = []): MemoryUserDirectory {
  const byMobile = new Map<string, UserSummary & { passwordHash: string | undefined }>()
  const add = (mobile: string, nickName = mobile, passwordHash?: string): UserSummary => {
    const user = { id: byMobile.size + 1, mobile, nickName, passwordHash }
    byMobile.set(mobile, user)
    return { id: user.id, mobile, nickName }
  }
  for (const mobile of mobiles) add(mobile)
  return {
    existsByMobile(mobile) {
      return Promise.resolve(byMobile.has(mobile))
    },
    create({ mobile, nickName, passwordHash }) {
      if (byMobile.has(mobile)) return Promise.resolve({ kind: 'taken' })
      return Promise.resolve({ kind: 'created', user: add(mobile, nickName, passwordHash) })
    },
    findById(id) {
      const user = [...byMobile.values()].find((candidate) => candidate.id === id)
      return Promise.resolve(
        user ? { id: user.id, mobile: user.mobile, nickName: user.nickName } : null,
      )
    },
    add(mobile) {
      if (!byMobile.has(mobile)) add(mobile)
    },
    passwordHashOf: (mobile) => byMobile.get(mobile)?.passwordHash,
  }
}
