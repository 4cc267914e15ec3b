import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb } from './client.ts'
import { startEmbeddedPostgres } from './embedded.ts'
import type { EmbeddedPostgres } from './embedded.ts'
import { migrateDatabase } from './migrate.ts'
import { createUserDirectory } from './user-directory.ts'

describe('startEmbeddedPostgres', () => {
  let tempDir: string
  let dataDir: string
  const running = new Set<EmbeddedPostgres>()

  async function start(): Promise<EmbeddedPostgres> {
    const embedded = await startEmbeddedPostgres({ dataDir, port: 0 })
    running.add(embedded)
    return embedded
  }

  async function stop(embedded: EmbeddedPostgres): Promise<void> {
    await embedded.stop()
    running.delete(embedded)
  }

  beforeAll(async () => {
    tempDir = await mkdtemp(path.join(tmpdir(), 'signup-pglite-'))
    dataDir = path.join(tempDir, 'pglite')
  })

  afterAll(async () => {
    for (const embedded of running) await embedded.stop()
    await rm(tempDir, { recursive: true, force: true })
  })

  it('the send path lookup survives the pool replacing its connection (unnamed; a named one does not)', async () => {
    const embedded = await start()
    await migrateDatabase(embedded.url)
    const db = createDb({ url: embedded.url, max: 1, idleTimeoutMillis: 20 })
    const lookUpAfterIdle = async (users: ReturnType<typeof createUserDirectory>) => {
      await users.existsByMobile('13800138009')
      // The pool closes its idle connection; the next lookup runs on a new one.
      const deadline = Date.now() + 20_000
      while (db.pool.totalCount > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect(db.pool.totalCount).toBe(0)
      return users.existsByMobile('13800138009')
    }
    try {
      expect(await lookUpAfterIdle(createUserDirectory(db, { namedStatements: false }))).toBe(false)
      // What the dev server did before: every send failed once the first connection was replaced.
      await expect(lookUpAfterIdle(createUserDirectory(db))).rejects.toThrow(/already exists/)
    } finally {
      await db.close()
      await stop(embedded)
    }
  })

  it('serves a migrated database whose rows survive a restart on the same directory', async () => {
    const first = await start()
    expect(first.url).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
    await migrateDatabase(first.url)

    const db = createDb({ url: first.url, max: 1 })
    try {
      await db.ping()
      await db.prisma.user.create({ data: { mobile: '13800138000', nickName: 'alice' } })
      expect(await createUserDirectory(db).existsByMobile('13800138000')).toBe(true)
      // The hand-written CHECK constraint is enforced by PGlite too.
      await expect(
        db.prisma.user.create({ data: { mobile: '12345678901', nickName: 'bad' } }),
      ).rejects.toThrow(/users_mobile_format/)
    } finally {
      await db.close()
    }
    await stop(first)
    expect((await stat(path.join(dataDir, 'PG_VERSION'))).isFile()).toBe(true)

    const second = await start()
    // Migrating again is a no-op, as on every dev server start.
    await migrateDatabase(second.url)
    const again = createDb({ url: second.url, max: 1 })
    try {
      const users = createUserDirectory(again)
      expect(await users.existsByMobile('13800138000')).toBe(true)
      expect(await users.existsByMobile('13800138001')).toBe(false)
      expect(await again.prisma.user.count()).toBe(1)
    } finally {
      await again.close()
    }
    await stop(second)
    // Two starts and two migrations of PGlite (WebAssembly): 8 s here under load, so far more
    // than the 30 s an integration test gets by default on a machine half as fast.
  }, 120_000)

  it('serves several pg connections at once through its multiplexer', async () => {
    const embedded = await start()
    const pool = new pg.Pool({ connectionString: embedded.url, max: 4 })
    try {
      const clients = await Promise.all([1, 2, 3, 4].map(() => pool.connect()))
      const answers = await Promise.all(
        clients.map((client, i) => client.query<{ n: number }>('SELECT $1::int AS n', [i])),
      )
      expect(answers.map((answer) => answer.rows[0]?.n)).toEqual([0, 1, 2, 3])
      // Whatever the startup message names, PGlite answers as postgres in database postgres.
      const who = await clients[0]?.query<{ u: string; d: string }>(
        'SELECT current_user AS u, current_database() AS d',
      )
      expect(who?.rows[0]).toEqual({ u: 'postgres', d: 'postgres' })
      for (const client of clients) client.release()
    } finally {
      await pool.end()
      await stop(embedded)
    }
  })

  it('refuses a second server on a directory this process serves already', async () => {
    const embedded = await start()
    try {
      await expect(start()).rejects.toThrow(/in use by this process/)
    } finally {
      await stop(embedded)
    }
  })

  it('refuses a directory locked by another live process, takes over a stale lock', async () => {
    const lockPath = `${dataDir}.lock`
    // The parent (vitest's main process) is alive and is not this process.
    await writeFile(lockPath, String(process.ppid))
    await expect(start()).rejects.toThrow(`in use by process ${process.ppid}`)

    const deadPid = await exitedProcessPid()
    await writeFile(lockPath, String(deadPid))
    const embedded = await start()
    expect(await readFile(lockPath, 'utf8')).toBe(String(process.pid))
    await stop(embedded)
    await expect(stat(lockPath)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

/** The pid of a process that has already exited (so no process has it, barring reuse). */
async function exitedProcessPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('exit', resolve))
  if (child.pid === undefined) throw new Error('could not spawn a short-lived process')
  return child.pid
}
