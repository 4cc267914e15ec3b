import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb } from './client.ts'
import type { Db } from './client.ts'
import { migrateDatabase } from './migrate.ts'
import { createUserDirectory } from './user-directory.ts'
import { freshMobile } from './testing/mobiles.ts'
import { startPgBouncer } from './testing/pgbouncer.ts'
import type { RunningPgBouncer } from './testing/pgbouncer.ts'
import { describeUserDirectoryContract } from './testing/user-directory-contract.ts'

// What the app asks of Postgres, through Debian's PgBouncer in transaction mode with one server
// session per database: every client takes its turn on that session (decision record 020).
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const DB_NAME = `signup_test_pgbouncer_${randomBytes(6).toString('hex')}`
const databases: string[] = []
let bouncer: RunningPgBouncer

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** A migrated database of its own (migrated directly, as `pnpm db:migrate` does). */
async function createDatabase(name: string): Promise<void> {
  await admin(`CREATE DATABASE "${name}"`)
  databases.push(name)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  await migrateDatabase(url.toString())
}

beforeAll(async () => {
  bouncer = await startPgBouncer({ poolSize: 1 })
  await createDatabase(DB_NAME)
}, 120_000)

afterAll(async () => {
  await bouncer?.stop()
  for (const name of databases) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
})

describe('through PgBouncer in transaction mode', () => {
  let db: Db

  beforeAll(() => {
    db = createDb({ url: bouncer.url(DB_NAME), max: 2 })
  })

  afterAll(async () => {
    await db?.close()
  })

  it('the send path lookup works unnamed; named, a second client collides with the first on the shared session', async () => {
    const [a, b] = [freshMobile(), freshMobile()]
    // Two lookups at once: the pool opens its two connections, which share PgBouncer's one session.
    const both = (users: ReturnType<typeof createUserDirectory>) =>
      Promise.allSettled([users.existsByMobile(a), users.existsByMobile(b)])

    const unnamed = createUserDirectory(db, { namedStatements: false })
    expect(await both(unnamed)).toEqual([
      { status: 'fulfilled', value: false },
      { status: 'fulfilled', value: false },
    ])
    expect(db.pool.totalCount).toBe(2)

    // What a server without pgbouncer=true did behind it: each connection prepares the statement
    // once, on whichever session it is handed, and the second finds the first's there.
    const named = await both(createUserDirectory(db))
    expect(named.filter((result) => result.status === 'rejected')).toEqual([
      {
        status: 'rejected',
        reason: expect.objectContaining({
          code: '42P05',
          message: 'prepared statement "signup-user-exists-by-mobile" already exists',
        }) as unknown,
      },
    ])
    // The named statement left behind on the session does not trouble the unnamed lookup.
    await db.prisma.user.create({ data: { mobile: a, nickName: 'a' } })
    expect(await both(unnamed)).toEqual([
      { status: 'fulfilled', value: true },
      { status: 'fulfilled', value: false },
    ])
  })

  it("Prisma's queries and transactions, from more connections than PgBouncer has sessions", async () => {
    const many = createDb({ url: bouncer.url(DB_NAME), max: 6 })
    const users = createUserDirectory(many, { namedStatements: false })
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 24 }, async () => {
          const mobile = freshMobile()
          const created = await users.create({ mobile, nickName: mobile, passwordHash: 'h1' })
          if (created.kind !== 'created') throw new Error(`${mobile} was taken`)
          const { id } = created.user
          await users.setPasswordHash(id, 'h2')
          await users.recordSignIn(id, new Date())
          // The adapter runs a transaction on one connection from BEGIN to COMMIT, which
          // transaction mode keeps on one session.
          const [count] = await many.prisma.$transaction([
            many.prisma.user.count({ where: { mobile } }),
            many.prisma.user.update({ where: { id }, data: { nickName: 'tx' } }),
          ])
          const inside = await many.prisma.$transaction(async (tx) => {
            await tx.user.update({ where: { id }, data: { nickName: 'interactive' } })
            return tx.user.findUnique({ where: { id }, select: { nickName: true } })
          })
          return {
            exists: await users.existsByMobile(mobile),
            credentials: (await users.findCredentials(mobile))?.passwordHash,
            count,
            nickName: inside?.nickName,
          }
        }),
      )
      expect(new Set(outcomes.map((outcome) => JSON.stringify(outcome)))).toEqual(
        new Set([
          JSON.stringify({ exists: true, credentials: 'h2', count: 1, nickName: 'interactive' }),
        ]),
      )
      // The app's connections really took turns on PgBouncer's one session.
      expect(many.pool.totalCount).toBeGreaterThan(bouncer.poolSize)
      const sessions = await bouncer.sessions(DB_NAME)
      expect(sessions.servers).toBeLessThanOrEqual(bouncer.poolSize)
      expect(sessions.clients).toBeGreaterThan(bouncer.poolSize)
    } finally {
      await many.close()
    }
  })

  it('the health check answers through it', async () => {
    await expect(db.ping()).resolves.toBeUndefined()
  })
})

describeUserDirectoryContract('createUserDirectory through PgBouncer (unnamed)', async () => {
  const name = `${DB_NAME}_contract`
  await createDatabase(name)
  const db = createDb({ url: bouncer.url(name), max: 4 })
  return {
    users: createUserDirectory(db, { namedStatements: false }),
    async lastLoginAtOf(mobile) {
      const row = await db.prisma.user.findUnique({ where: { mobile } })
      return row?.lastLoginAt ?? null
    },
    close: () => db.close(),
  }
})
