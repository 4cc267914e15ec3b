import type { PrismaClient } from './client.ts'

/** The one question sign-up asks of the users table. */
export interface UserDirectory {
  /** Whether a user with this normalised mobile (11 digits) is registered. */
  existsByMobile(mobile: string): Promise<boolean>
}

/** A UserDirectory over the users table; errors (database down, ...) propagate to the caller. */
export function createUserDirectory(prisma: PrismaClient): UserDirectory {
  return {
    async existsByMobile(mobile) {
      // mobile is unique-indexed, so this is one index lookup returning at most the id.
      const user = await prisma.user.findUnique({ where: { mobile }, select: { id: true } })
      return user !== null
    },
  }
}

/** A UserDirectory whose registered mobiles can be added at run time. */
export interface InMemoryUserDirectory extends UserDirectory {
  add(mobile: string): void
}

/**
 * Test and development stand-in that keeps mobiles in a Set: no database, no validation, and the
 * contents vanish with the process. Production code should use createUserDirectory.
 */
export function createInMemoryUserDirectory(mobiles: Iterable<string> = []): InMemoryUserDirectory {
  const registered = new Set(mobiles)
  return {
    existsByMobile(mobile) {
      return Promise.resolve(registered.has(mobile))
    },
    add(mobile) {
      registered.add(mobile)
    },
  }
}
