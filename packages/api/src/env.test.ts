import { describe, expect, it } from 'vitest'
import { EnvError, loadEnv } from './env.ts'

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgresql://app@db.internal:5432/app',
  REDIS_URL: 'rediss://cache.internal:6380',
  SMS_PROVIDER: 'console',
}

function messageOf(source: Record<string, string>): string {
  try {
    loadEnv(source)
  } catch (error) {
    expect(error).toBeInstanceOf(EnvError)
    return (error as EnvError).message
  }
  throw new Error('expected loadEnv to refuse')
}

describe('loadEnv', () => {
  it('never repeats a password from an invalid URL', () => {
    const message = messageOf({ ...PRODUCTION, DATABASE_URL: 'mysql://app:s3cret@db/app' })
    expect(message).toContain('DATABASE_URL')
    expect(message).not.toContain('s3cret')
  })

  it('gives the contract defaults in development', () => {
    const env = loadEnv({})
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      IMAGE_CODE_TTL_SECONDS: 300,
      SMS_CODE_TTL_SECONDS: 300,
      SMS_RESEND_SECONDS: 60,
      TRUST_PROXY: false,
      ALLOWED_ORIGINS: [],
    })
    expect(env.DATABASE_URL).toBeUndefined()
    expect(env.REDIS_URL).toBeUndefined()
    expect(env.SMS_PROVIDER).toBeUndefined()
  })

  it('accepts a complete production configuration', () => {
    const env = loadEnv({
      ...PRODUCTION,
      TRUST_PROXY: '1',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    })
    expect(env.SMS_PROVIDER).toEqual(['console'])
    expect(env.TRUST_PROXY).toBe(true)
    expect(env.ALLOWED_ORIGINS).toEqual(['https://a.example', 'https://b.example'])
  })

  it.each(['DATABASE_URL', 'REDIS_URL', 'SMS_PROVIDER'] as const)(
    'refuses a production start without %s, naming it',
    (name) => {
      const source: Record<string, string> = { ...PRODUCTION }
      delete source[name]
      expect(messageOf(source)).toContain(`${name}: is required in production`)
    },
  )

  it.each([
    ['DATABASE_URL', 'mysql://x@y/z'],
    ['REDIS_URL', 'http://cache:6379'],
    ['SMS_PROVIDER', 'carrier-pigeon'],
    ['PORT', 'eighty'],
    ['SMS_RESEND_SECONDS', '0'],
    ['TRUST_PROXY', 'maybe'],
  ])('refuses %s=%s, naming the variable and the value', (name, value) => {
    const message = messageOf({ ...PRODUCTION, [name]: value })
    expect(message).toContain(name)
    expect(message).toContain(JSON.stringify(value))
  })
})
