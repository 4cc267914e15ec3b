import type { UserDirectory, UserSummary } from '../user-directory.ts'

/** A UserDirectory whose registered mobiles can be added at run time, and whose stored hashes a
 * test can read. */
export interface MemoryUserDirectory extends UserDirectory {
  /** Registers the mobile (no password unless one is given) unless it already is. */
  add(mobile: string, passwordHash?: string): void
  /** The stored hash, for tests that check what was stored. */
  passwordHashOf(mobile: string): string | undefined
  /** The last recorded sign-in, for tests that check it was recorded. */
  lastLoginAtOf(mobile: string): Date | undefined
}

interface StoredUser extends UserSummary {
  passwordHash: string | undefined
  lastLoginAt: Date | undefined
}

/**
 * The stand-in for Postgres in the pure core tests: users in a Map, no validation, gone with the
 * process. The same UserDirectory port as createUserDirectory, held to the same contract
 * (user-directory-contract.ts).
 */
export function createMemoryUserDirectory(mobiles: Iterable<string> = []): MemoryUserDirectory {
  const byMobile = new Map<string, StoredUser>()
  const add = (
    mobile: string,
    nickName = mobile,
    passwordHash?: string,
    lastLoginAt?: Date,
  ): UserSummary => {
    const user = { id: byMobile.size + 1, mobile, nickName, passwordHash, lastLoginAt }
    byMobile.set(mobile, user)
    return summary(user)
  }
  const byId = (id: number) => [...byMobile.values()].find((candidate) => candidate.id === id)
  for (const mobile of mobiles) add(mobile)
  return {
    existsByMobile(mobile) {
      return Promise.resolve(byMobile.has(mobile))
    },
    create({ mobile, nickName, passwordHash, lastLoginAt }) {
      if (byMobile.has(mobile)) return Promise.resolve({ kind: 'taken' })
      const user = add(mobile, nickName, passwordHash ?? undefined, lastLoginAt)
      return Promise.resolve({ kind: 'created', user })
    },
    findById(id) {
      const user = byId(id)
      return Promise.resolve(user ? summary(user) : null)
    },
    findCredentials(mobile) {
      const user = byMobile.get(mobile)
      return Promise.resolve(
        user ? { user: summary(user), passwordHash: user.passwordHash ?? null } : null,
      )
    },
    setPasswordHash(id, passwordHash) {
      const user = byId(id)
      if (user) user.passwordHash = passwordHash
      return Promise.resolve(user !== undefined)
    },
    recordSignIn(id, at) {
      const user = byId(id)
      if (user) user.lastLoginAt = at
      return Promise.resolve(user !== undefined)
    },
    add(mobile, passwordHash) {
      if (!byMobile.has(mobile)) add(mobile, mobile, passwordHash)
    },
    passwordHashOf: (mobile) => byMobile.get(mobile)?.passwordHash,
    lastLoginAtOf: (mobile) => byMobile.get(mobile)?.lastLoginAt,
  }
}

function summary(user: StoredUser): UserSummary {
  return { id: user.id, mobile: user.mobile, nickName: user.nickName }
}
