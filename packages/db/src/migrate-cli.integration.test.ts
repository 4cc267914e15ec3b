import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateDatabase, REPO_ROOT } from './migrate.ts'
import { startPgBouncer } from './testing/pgbouncer.ts'
import type { RunningPgBouncer } from './testing/pgbouncer.ts'

// `pnpm db:migrate` beside PgBouncer: through DIRECT_URL, never through the pooler (decision 020).
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const PREFIX = `signup_test_migrate_${randomBytes(6).toString('hex')}`
/** The lock Prisma's schema engine holds around `migrate deploy`, on its session. */
const SCHEMA_ENGINE_LOCK = 72707369
const databases: string[] = []
let bouncer: RunningPgBouncer

async function admin<Row extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    return (await client.query<Row>(sql, params)).rows
  } finally {
    await client.end()
  }
}

async function freshDatabase(label: string): Promise<{ name: string; direct: string }> {
  const name = `${PREFIX}_${label}`
  await admin(`CREATE DATABASE "${name}"`)
  databases.push(name)
  const direct = new URL(ADMIN_URL)
  direct.pathname = `/${name}`
  return { name, direct: direct.toString() }
}

async function tablesOf(name: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: bouncer.url(name) })
  await client.connect()
  try {
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    return rows.map((row) => row.tablename)
  } finally {
    await client.end()
  }
}

/** Sessions of `database` holding the schema engine's lock. */
async function lockHolders(database: string): Promise<number> {
  const rows = await admin(
    "SELECT 1 FROM pg_locks JOIN pg_database d ON d.oid = pg_locks.database WHERE locktype = 'advisory' AND objid = $1 AND d.datname = $2",
    [SCHEMA_ENGINE_LOCK, database],
  )
  return rows.length
}

/** `pnpm db:migrate` as an operator runs it, with only these database variables set. */
async function dbMigrate(env: Record<string, string>) {
  const inherited = { ...process.env }
  delete inherited.DATABASE_URL
  delete inherited.DIRECT_URL
  return promisify(execFile)('pnpm', ['db:migrate'], {
    cwd: REPO_ROOT,
    env: { ...inherited, ...env },
    timeout: 150_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    }),
  )
}

beforeAll(async () => {
  bouncer = await startPgBouncer({ poolSize: 2 })
}, 60_000)

afterAll(async () => {
  await bouncer?.stop()
  for (const name of databases) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
})

describe('pnpm db:migrate with DATABASE_URL through PgBouncer', () => {
  it('migrates through DIRECT_URL, and leaves no lock behind', async () => {
    const { name, direct } = await freshDatabase('direct')
    const ran = await dbMigrate({ DATABASE_URL: bouncer.url(name), DIRECT_URL: direct })
    expect(ran.output).toContain(`Migrated ${direct} (DIRECT_URL).`)
    expect(ran.code).toBe(0)
    expect(await tablesOf(name)).toEqual(['_prisma_migrations', 'users'])
    expect(await lockHolders(name)).toBe(0)
  }, 180_000)

  it('refuses a pgbouncer=true DATABASE_URL without DIRECT_URL, naming it, and migrates nothing', async () => {
    const { name } = await freshDatabase('refused')
    const ran = await dbMigrate({ DATABASE_URL: bouncer.url(name) })
    expect(ran.code).toBe(1)
    expect(ran.output).toContain('DATABASE_URL has pgbouncer=true')
    expect(ran.output).toContain('Set DIRECT_URL')
    expect(await tablesOf(name)).toEqual([])
  }, 180_000)

  it('why: through the pooler, the schema engine’s session lock outlives the migration', async () => {
    const { name } = await freshDatabase('pooled')
    // Past the refusal, straight to the CLI: the migration itself succeeds...
    await migrateDatabase(bouncer.url(name, {}))
    // ...but its lock stays on a pooled server session that no client owns any more: a later
    // migration handed another session would wait on it.
    expect(await lockHolders(name)).toBe(1)
  }, 180_000)
})
