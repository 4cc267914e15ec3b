import { randomBytes } from 'node:crypto'
import net from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb } from './client.ts'
import type { Db } from './client.ts'
import { migrateDatabase } from './migrate.ts'
import { createUserDirectory } from './user-directory.ts'
import { describeUserDirectoryContract } from './testing/user-directory-contract.ts'

// Real Postgres (trust auth); TEST_POSTGRES_URL points elsewhere on another machine.
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const DB_NAME = `signup_test_db_${randomBytes(6).toString('hex')}`

function urlFor(database: string): string {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${database}`
  return url.toString()
}

/** Runs one statement on the admin database over a short-lived connection. */
async function admin<Row extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    return await client.query<Row>(sql, params)
  } finally {
    await client.end()
  }
}

/** Terminates every session on the test database and waits until each backend has exited. */
async function terminateTestDatabaseSessions(): Promise<number> {
  const result = await admin(
    'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity' +
      ' WHERE datname = $1 AND pid <> pg_backend_pid()',
    [DB_NAME],
  )
  return result.rowCount ?? 0
}

/** The statement the backend with this pid is running, if any. */
async function runningQuery(pid: number): Promise<string | undefined> {
  const result = await admin<{ query: string }>(
    "SELECT query FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
    [pid],
  )
  return result.rows[0]?.query
}

async function backendPid(db: Db): Promise<number> {
  const rows = await db.prisma.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`
  const pid = rows[0]?.pid
  if (pid === undefined) throw new Error('pg_backend_pid() returned no row')
  return pid
}

describe('createUserDirectory against real Postgres', () => {
  let db: Db

  beforeAll(async () => {
    await admin(`CREATE DATABASE "${DB_NAME}"`)
    await migrateDatabase(urlFor(DB_NAME))
    db = createDb({ url: urlFor(DB_NAME), max: 2 })
  })

  afterAll(async () => {
    await db?.close()
    // Terminate stragglers first: DROP DATABASE fails while anyone is connected.
    await terminateTestDatabaseSessions()
    await admin(`DROP DATABASE IF EXISTS "${DB_NAME}"`)
  })

  it('answers false, then true once a user with that mobile exists', async () => {
    const users = createUserDirectory(db)
    expect(await users.existsByMobile('13800138000')).toBe(false)

    await db.prisma.user.create({ data: { mobile: '13800138000', nickName: 'alice' } })

    expect(await users.existsByMobile('13800138000')).toBe(true)
    expect(await users.existsByMobile('13800138001')).toBe(false)
  })

  it('rejects a mobile that breaks the users_mobile_format CHECK constraint', async () => {
    // Surfaces as the adapter's DriverAdapterError (cause.code 23514), not a Prisma P-code error.
    await expect(
      db.prisma.user.create({ data: { mobile: '12345678901', nickName: 'bad' } }),
    ).rejects.toThrow(/users_mobile_format/)
    await expect(
      db.prisma.user.create({ data: { mobile: '1380013800', nickName: 'short' } }),
    ).rejects.toThrow(/users_mobile_format/)
  })

  it('rejects a second user with the same mobile (P2002)', async () => {
    await db.prisma.user.create({ data: { mobile: '13900139000', nickName: 'first' } })
    await expect(
      db.prisma.user.create({ data: { mobile: '13900139000', nickName: 'second' } }),
    ).rejects.toMatchObject({ code: 'P2002' })
  })

  it('create inserts the user and answers its summary, without the hash', async () => {
    const users = createUserDirectory(db)
    const result = await users.create({
      mobile: '13700137000',
      nickName: '13700137000',
      passwordHash: '$scrypt$ln=4,r=8,p=1$c2FsdA$aGFzaA',
    })
    expect(result).toEqual({
      kind: 'created',
      user: { id: expect.any(Number) as unknown, mobile: '13700137000', nickName: '13700137000' },
    })
    const row = await db.prisma.user.findUnique({ where: { mobile: '13700137000' } })
    expect(row?.passwordHash).toBe('$scrypt$ln=4,r=8,p=1$c2FsdA$aGFzaA')
    expect(row?.lastLoginAt).toBeNull()
    if (result.kind !== 'created') throw new Error('expected a created user')
    expect(await users.findById(result.user.id)).toEqual(result.user)
    expect(await users.findById(result.user.id + 10_000)).toBeNull()
  })

  it('create answers taken for a registered mobile, also when two inserts race', async () => {
    const users = createUserDirectory(db)
    const user = { mobile: '13700137001', nickName: 'n', passwordHash: 'h' }
    const results = await Promise.all([users.create(user), users.create(user), users.create(user)])
    expect(results.filter((result) => result.kind === 'created')).toHaveLength(1)
    expect(results.filter((result) => result.kind === 'taken')).toHaveLength(2)
    expect(await users.create(user)).toEqual({ kind: 'taken' })
  })

  it('create lets other database errors through', async () => {
    const users = createUserDirectory(db)
    await expect(
      users.create({ mobile: '12345678901', nickName: 'n', passwordHash: 'h' }),
    ).rejects.toThrow(/users_mobile_format/)
  })

  it('opens a new connection by itself after pg_terminate_backend of an idle one', async () => {
    const killed = createDb({ url: urlFor(DB_NAME), max: 1 })
    try {
      const before = await backendPid(killed)
      expect(await terminateTestDatabaseSessions()).toBeGreaterThanOrEqual(1)

      // pg_terminate_backend(pid, 5000) returns once the backend has exited, so by now its FATAL
      // 57P01 has normally reached the idle client and the pool has dropped it: the next query
      // connects afresh. Had the pool not noticed yet, that one query fails with 57P01 instead.
      const after = await backendPid(killed).catch((error: unknown) => {
        expect(error).toMatchObject({ message: expect.stringContaining('57P01') as unknown })
        return backendPid(killed)
      })
      expect(after).not.toBe(before)
      expect(await createUserDirectory(killed).existsByMobile('13800138000')).toBe(true)
    } finally {
      await killed.close()
    }
  })

  it('fails the query in flight on a terminated connection once, then recovers', async () => {
    const killed = createDb({ url: urlFor(DB_NAME), max: 1 })
    try {
      const before = await backendPid(killed)
      const inFlight = killed.prisma.$queryRaw`SELECT pg_sleep(10)`
      const outcome = inFlight.then(
        () => undefined,
        (error: unknown) => error,
      )
      // Wait until the sleep is running on the server before killing its backend.
      await expect.poll(() => runningQuery(before), { timeout: 5000 }).toMatch(/pg_sleep/)
      await terminateTestDatabaseSessions()

      expect(await outcome).toMatchObject({
        code: 'P2010',
        message: expect.stringContaining('57P01') as unknown,
      })
      await expect(killed.ping()).resolves.toBeUndefined()
      expect(await backendPid(killed)).not.toBe(before)
    } finally {
      await killed.close()
    }
  })

  it('rejects quickly when Postgres is unreachable (closed port)', async () => {
    const unreachable = createDb({ url: 'postgresql://postgres@127.0.0.1:1/postgres' })
    try {
      const started = Date.now()
      // ECONNREFUSED: a Prisma raw query reports it as P2010; the mobile lookup runs on pg itself.
      await expect(unreachable.ping()).rejects.toMatchObject({
        code: 'P2010',
        message: expect.stringContaining("Can't reach database server at 127.0.0.1:1") as unknown,
      })
      await expect(
        createUserDirectory(unreachable).existsByMobile('13800138000'),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      await unreachable.close()
    }
  })

  it('gives up after connectionTimeoutMillis if the server accepts but never answers', async () => {
    // A listener that never speaks stands in for a black-holed host without waiting on the OS.
    const sockets = new Set<net.Socket>()
    const silent = net.createServer((socket) => sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as net.AddressInfo
    const hanging = createDb({
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      connectionTimeoutMillis: 500,
    })
    try {
      const started = Date.now()
      await expect(hanging.ping()).rejects.toThrow(
        'Connection terminated due to connection timeout',
      )
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      await hanging.close()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })
})

describeUserDirectoryContract('createUserDirectory on real Postgres', async () => {
  const name = `${DB_NAME}_contract`
  await admin(`CREATE DATABASE "${name}"`)
  await migrateDatabase(urlFor(name))
  const db = createDb({ url: urlFor(name), max: 4 })
  return {
    users: createUserDirectory(db),
    async lastLoginAtOf(mobile) {
      const row = await db.prisma.user.findUnique({ where: { mobile } })
      return row?.lastLoginAt ?? null
    },
    async close() {
      await db.close()
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    },
  }
})
