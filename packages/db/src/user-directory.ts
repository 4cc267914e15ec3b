import { Prisma } from './generated/prisma/client.ts'
import type { Db } from './client.ts'

/** What sign-up may show of a user: never the password hash. */
export interface UserSummary {
  id: number
  mobile: string
  nickName: string
}

export interface NewUser {
  /** Normalised mobile (11 digits). */
  mobile: string
  nickName: string
  /**
   * The self-describing hash string; the password itself never reaches this layer. null for an
   * account made by an SMS-code sign-in, which has no password until one is set.
   */
  passwordHash: string | null
  /** When the account is made by a sign-in (register, SMS-code sign-in): its last_login_at. */
  lastLoginAt?: Date
}

/** A mobile already registered is an expected outcome, not an error. */
export type CreateUserResult = { kind: 'created'; user: UserSummary } | { kind: 'taken' }

/** A user and what a password sign-in compares against (null: the account has no password). */
export interface UserCredentials {
  user: UserSummary
  passwordHash: string | null
}

/** What sign-up and sign-in ask of the users table. */
export interface UserDirectory {
  /** Whether a user with this normalised mobile (11 digits) is registered. */
  existsByMobile(mobile: string): Promise<boolean>
  /** Inserts the user; the unique index on mobile decides a race between two inserts. */
  create(user: NewUser): Promise<CreateUserResult>
  findById(id: number): Promise<UserSummary | null>
  /** The user with this normalised mobile and its stored password hash, or null. */
  findCredentials(mobile: string): Promise<UserCredentials | null>
  /** Replaces the user's password hash; false when there is no such user. */
  setPasswordHash(id: number, passwordHash: string): Promise<boolean>
  /** Records a sign-in (last_login_at); false when there is no such user. */
  recordSignIn(id: number, at: Date): Promise<boolean>
}

const SUMMARY = { id: true, mobile: true, nickName: true } as const

/**
 * Every send asks whether its mobile is taken, so that one lookup is a named prepared statement on
 * Prisma's own pool: Prisma 6 compiles each query on the event loop (about 40 µs here), which cost
 * a tenth of the send path's throughput (decision record 012). The schema, the migrations, writes
 * and every other read stay Prisma's.
 */
const EXISTS_BY_MOBILE = {
  text: 'SELECT 1 FROM "users" WHERE "mobile" = $1 LIMIT 1',
  // Rows as arrays: only their count is read.
  rowMode: 'array',
} as const

const EXISTS_BY_MOBILE_NAME = 'signup-user-exists-by-mobile'

/**
 * A UserDirectory over the users table; errors (database down, ...) propagate to the caller.
 * `namedStatements: false` sends the send path's lookup unnamed: where connections share one
 * server session, a named statement outlives the connection that prepared it and the next one's
 * PREPARE fails (42P05) — the embedded PGlite database does this once the pool replaces an idle
 * connection (decision record 012).
 */
export function createUserDirectory(
  db: Pick<Db, 'prisma' | 'pool'>,
  options: { namedStatements?: boolean } = {},
): UserDirectory {
  const { prisma, pool } = db
  const existsByMobile =
    options.namedStatements === false
      ? EXISTS_BY_MOBILE
      : { ...EXISTS_BY_MOBILE, name: EXISTS_BY_MOBILE_NAME }
  return {
    async existsByMobile(mobile) {
      // mobile is unique-indexed, so this is one index lookup returning at most one row.
      const result = await pool.query({ ...existsByMobile, values: [mobile] })
      return result.rows.length > 0
    },
    async create({ mobile, nickName, passwordHash, lastLoginAt }) {
      try {
        const user = await prisma.user.create({
          data: { mobile, nickName, passwordHash, lastLoginAt: lastLoginAt ?? null },
          select: SUMMARY,
        })
        return { kind: 'created', user }
      } catch (error) {
        if (isUniqueViolation(error)) return { kind: 'taken' }
        throw error
      }
    },
    findById(id) {
      return prisma.user.findUnique({ where: { id }, select: SUMMARY })
    },
    async findCredentials(mobile) {
      const row = await prisma.user.findUnique({
        where: { mobile },
        select: { ...SUMMARY, passwordHash: true },
      })
      if (!row) return null
      const { passwordHash, ...user } = row
      return { user, passwordHash }
    },
    async setPasswordHash(id, passwordHash) {
      const { count } = await prisma.user.updateMany({ where: { id }, data: { passwordHash } })
      return count > 0
    },
    async recordSignIn(id, at) {
      const { count } = await prisma.user.updateMany({ where: { id }, data: { lastLoginAt: at } })
      return count > 0
    },
  }
}

/** P2002 on users: the only unique columns are id (generated) and mobile. */
function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002'
}
