import { describe, expect, it } from 'vitest'
import { migrationTarget, readDatabaseUrl } from './database-url.ts'

const DIRECT = 'postgresql://app:s3cret@db.internal:5432/app'
const POOLED = 'postgresql://app:s3cret@pooler.internal:6432/app?pgbouncer=true'

describe('readDatabaseUrl', () => {
  it('reads pgbouncer and connection_limit as Prisma names them, off and unset by default', () => {
    expect(readDatabaseUrl(DIRECT)).toEqual({ pgbouncer: false, connectionLimit: undefined })
    expect(readDatabaseUrl(`${POOLED}&connection_limit=40`)).toEqual({
      pgbouncer: true,
      connectionLimit: 40,
    })
    expect(readDatabaseUrl(`${DIRECT}?pgbouncer=false&sslmode=require`).pgbouncer).toBe(false)
  })

  it.each([
    ['pgbouncer=1', 'pgbouncer must be true or false'],
    ['pgbouncer=', 'pgbouncer must be true or false'],
    ['pgbouncer=TRUE', 'pgbouncer must be true or false'],
    ['connection_limit=0', 'connection_limit must be a whole number from 1 to 1000'],
    ['connection_limit=1001', 'connection_limit must be a whole number from 1 to 1000'],
    ['connection_limit=2.5', 'connection_limit must be a whole number from 1 to 1000'],
    ['connection_limit=', 'connection_limit must be a whole number from 1 to 1000'],
    ['connection_limit=1e2', 'connection_limit must be a whole number from 1 to 1000'],
  ])('refuses %s', (query, message) => {
    expect(() => readDatabaseUrl(`${DIRECT}?${query}`)).toThrow(message)
  })
})

describe('migrationTarget', () => {
  it('prefers DIRECT_URL, falls back to DATABASE_URL, and is undefined with neither', () => {
    expect(migrationTarget({ DATABASE_URL: POOLED, DIRECT_URL: DIRECT })).toEqual({
      url: DIRECT,
      variable: 'DIRECT_URL',
    })
    expect(migrationTarget({ DATABASE_URL: DIRECT })).toEqual({
      url: DIRECT,
      variable: 'DATABASE_URL',
    })
    expect(migrationTarget({ DATABASE_URL: DIRECT, DIRECT_URL: '' })).toEqual({
      url: DIRECT,
      variable: 'DATABASE_URL',
    })
    expect(migrationTarget({})).toBeUndefined()
  })

  it('refuses a pgbouncer=true DATABASE_URL without DIRECT_URL, naming DIRECT_URL', () => {
    expect(() => migrationTarget({ DATABASE_URL: POOLED })).toThrow(
      /^DATABASE_URL has pgbouncer=true .* Set DIRECT_URL /,
    )
  })

  it('refuses a DIRECT_URL that goes through a pooler, or is no postgres URL, without its password', () => {
    expect(() => migrationTarget({ DATABASE_URL: POOLED, DIRECT_URL: POOLED })).toThrow(
      /^DIRECT_URL has pgbouncer=true/,
    )
    for (const url of ['mysql://app:s3cret@db/app', 'not a url', `${DIRECT}?pgbouncer=yes`]) {
      let message = ''
      try {
        migrationTarget({ DIRECT_URL: url })
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).toMatch(/^DIRECT_URL must be a postgres:\/\/ or postgresql:\/\/ URL/)
      expect(message).not.toContain('s3cret')
    }
  })
})
