import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { Logger } from 'pino'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { migrateDatabase } from '@signup/db/migrate'
import { deleteKeysWithPrefix as deleteKeysOn } from '@signup/kv/testing/redis-keys'

export { waitUntil } from '@signup/kv/testing/child-process'

export { leastMsLeft, leastSecondsLeft } from '@signup/auth/testing/test-services'

/** The real services the integration tests use; overridable for another machine. */
export const TEST_POSTGRES_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface TestDatabase {
  url: string
  name: string
  drop(): Promise<void>
}

/**
 * A fresh, migrated Postgres database of its own for one test file; drop() removes it. `adminUrl`
 * names another server (a test's private one) to make it on.
 */
export async function createTestDatabase(
  label = 'it',
  adminUrl = TEST_POSTGRES_URL,
): Promise<TestDatabase> {
  const name = `signup_test_${label}_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  await migrateDatabase(url.toString())
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl })
      await client.connect()
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } finally {
        await client.end()
      }
    },
  }
}

/** A key prefix no other test uses, so tests share one Redis without seeing each other's keys. */
export function testKeyPrefix(label = 'it'): string {
  return `test:${label}:${randomUUID()}:`
}

/** Removes every key under a test's prefix (the keys carry TTLs anyway; this leaves none behind). */
export function deleteKeysWithPrefix(prefix: string, redisUrl = TEST_REDIS_URL): Promise<void> {
  return deleteKeysOn(redisUrl, prefix)
}

/** A JSON logger whose lines are kept, parsed, for a test to look at (and empty again). */
export function createCapturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'info', base: undefined },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as Record<string, unknown>)
        }
        done()
      },
    }),
  )
  return { logger, lines }
}
