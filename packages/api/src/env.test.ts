import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ALIYUN, RONGLIAN } from '@signup/sms/testing/example-credentials'
import { EnvError, loadEnv } from './env.ts'

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgresql://app@db.internal:5432/app',
  REDIS_URL: 'rediss://cache.internal:6380',
  SMS_PROVIDER: 'console',
  AUTH_SECRET: 'an-operator-secret-of-forty-bytes-000000',
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
      SESSION_TTL_SECONDS: 604_800,
      TRUST_PROXY: false,
      ALLOWED_ORIGINS: [],
    })
    expect(env.DATABASE_URL).toBeUndefined()
    expect(env.REDIS_URL).toBeUndefined()
    expect(env.SMS_PROVIDER).toBeUndefined()
  })

  it('gives connection limits a default and refuses headers timed out after the request', () => {
    expect(loadEnv({})).toMatchObject({
      MAX_CONNECTIONS: 4096,
      HEADERS_TIMEOUT_SECONDS: 10,
      REQUEST_TIMEOUT_SECONDS: 30,
      KEEP_ALIVE_TIMEOUT_SECONDS: 65,
    })
    expect(messageOf({ HEADERS_TIMEOUT_SECONDS: '40' })).toContain(
      'HEADERS_TIMEOUT_SECONDS: must not exceed REQUEST_TIMEOUT_SECONDS (30)',
    )
    expect(messageOf({ MAX_CONNECTIONS: '0' })).toContain('MAX_CONNECTIONS')
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

  it('accepts pgbouncer=true and connection_limit in DATABASE_URL, as Prisma names them', () => {
    const url = 'postgresql://app@pooler.internal:6432/app?pgbouncer=true&connection_limit=40'
    expect(loadEnv({ ...PRODUCTION, DATABASE_URL: url }).DATABASE_URL).toBe(url)
  })

  it.each(['DATABASE_URL', 'REDIS_URL', 'SMS_PROVIDER', 'AUTH_SECRET'] as const)(
    'refuses a production start without %s, naming it',
    (name) => {
      const source: Record<string, string> = { ...PRODUCTION }
      delete source[name]
      expect(messageOf(source)).toContain(`${name}: is required in production`)
    },
  )

  it('takes REDIS_CLUSTER_NODES instead of REDIS_URL, production included', () => {
    const { REDIS_URL: _url, ...withoutUrl } = PRODUCTION
    const env = loadEnv({
      ...withoutUrl,
      REDIS_CLUSTER_NODES: 'redis-0.internal:6379, 10.0.0.7:7000,[fd00::7]:7001',
    })
    expect(env.REDIS_URL).toBeUndefined()
    expect(env.REDIS_CLUSTER_NODES).toEqual([
      { host: 'redis-0.internal', port: 6379 },
      { host: '10.0.0.7', port: 7000 },
      { host: 'fd00::7', port: 7001 },
    ])
    expect(
      loadEnv({ ...withoutUrl, REDIS_CLUSTER_NODES: 'a:1', WEB_CONCURRENCY: '2' }),
    ).toMatchObject({ WEB_CONCURRENCY: 2 })
    expect(loadEnv(PRODUCTION).REDIS_CLUSTER_NODES).toBeUndefined()
  })

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together, naming both', () => {
    const message = messageOf({ ...PRODUCTION, REDIS_CLUSTER_NODES: '10.0.0.7:7000' })
    expect(message).toContain('REDIS_CLUSTER_NODES: and REDIS_URL are both set')
    // In development too: which Redis is meant cannot be guessed.
    expect(messageOf({ REDIS_URL: 'redis://x:6379', REDIS_CLUSTER_NODES: 'x:7000' })).toContain(
      'REDIS_URL',
    )
  })

  describe('a Redis Cluster that asks for AUTH and TLS', () => {
    const { REDIS_URL: _url, ...withoutUrl } = PRODUCTION
    const CLUSTER = { ...withoutUrl, REDIS_CLUSTER_NODES: 'redis-0.internal:6379' }
    const dir = mkdtempSync(path.join(tmpdir(), 'signup-env-test-'))
    const caPath = path.join(dir, 'ca.pem')
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
    writeFileSync(caPath, ca)
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('reads the ACL user, the password, TLS and the CA bundle', () => {
      const env = loadEnv({
        ...CLUSTER,
        REDIS_CLUSTER_USERNAME: 'app',
        REDIS_CLUSTER_PASSWORD: 's3cret-pass',
        REDIS_CLUSTER_TLS: '1',
        REDIS_CLUSTER_TLS_CA: caPath,
      })
      expect(env).toMatchObject({
        REDIS_CLUSTER_USERNAME: 'app',
        REDIS_CLUSTER_PASSWORD: 's3cret-pass',
        REDIS_CLUSTER_TLS: true,
        REDIS_CLUSTER_TLS_CA: { path: caPath, pem: ca },
      })
    })

    it('has no AUTH or TLS unless told, and an empty value is no value', () => {
      const env = loadEnv(CLUSTER)
      expect(env.REDIS_CLUSTER_USERNAME).toBeUndefined()
      expect(env.REDIS_CLUSTER_PASSWORD).toBeUndefined()
      expect(env.REDIS_CLUSTER_TLS).toBe(false)
      expect(env.REDIS_CLUSTER_TLS_CA).toBeUndefined()
      const empty = { REDIS_CLUSTER_USERNAME: '', REDIS_CLUSTER_PASSWORD: '' }
      expect(loadEnv({ ...CLUSTER, ...empty }).REDIS_CLUSTER_PASSWORD).toBeUndefined()
      // Nothing to refuse without a cluster either.
      expect(() => loadEnv({ ...PRODUCTION, ...empty, REDIS_CLUSTER_TLS: '0' })).not.toThrow()
    })

    it.each([
      ['REDIS_CLUSTER_USERNAME', 'app'],
      ['REDIS_CLUSTER_PASSWORD', 's3cret-pass'],
      ['REDIS_CLUSTER_TLS', '1'],
      ['REDIS_CLUSTER_TLS_CA', caPath],
    ])('refuses %s without REDIS_CLUSTER_NODES, naming it', (name, value) => {
      const settings = {
        REDIS_CLUSTER_PASSWORD: 'p',
        REDIS_CLUSTER_TLS: '1',
        [name]: value,
      }
      expect(messageOf({ ...withoutUrl, ...settings })).toContain(
        `${name}: is set but REDIS_CLUSTER_NODES is not`,
      )
      expect(messageOf({ ...PRODUCTION, ...settings })).toContain(`${name}: is set with REDIS_URL`)
    })

    it('never shows the password, even when refusing it', () => {
      const message = messageOf({ ...withoutUrl, REDIS_CLUSTER_PASSWORD: 's3cret-pass' })
      expect(message).toContain('REDIS_CLUSTER_PASSWORD: is set but REDIS_CLUSTER_NODES is not')
      expect(message).toContain('value hidden')
      expect(message).not.toContain('s3cret-pass')
    })

    it('refuses an ACL user without a password, and a CA bundle without TLS', () => {
      expect(messageOf({ ...CLUSTER, REDIS_CLUSTER_USERNAME: 'app' })).toContain(
        'REDIS_CLUSTER_USERNAME: is set but REDIS_CLUSTER_PASSWORD is not',
      )
      expect(messageOf({ ...CLUSTER, REDIS_CLUSTER_TLS_CA: caPath })).toContain(
        'REDIS_CLUSTER_TLS_CA: is set but REDIS_CLUSTER_TLS is not on',
      )
    })

    it('refuses a CA bundle it cannot read or that holds no certificate, naming the path', () => {
      const missing = path.join(dir, 'missing.pem')
      const message = messageOf({
        ...CLUSTER,
        REDIS_CLUSTER_TLS: '1',
        REDIS_CLUSTER_TLS_CA: missing,
      })
      expect(message).toContain(`REDIS_CLUSTER_TLS_CA: cannot read ${missing}`)
      expect(message).toContain('ENOENT')
      const notPem = path.join(dir, 'key.txt')
      writeFileSync(notPem, 'not a certificate')
      expect(
        messageOf({ ...CLUSTER, REDIS_CLUSTER_TLS: '1', REDIS_CLUSTER_TLS_CA: notPem }),
      ).toContain(`REDIS_CLUSTER_TLS_CA: ${notPem} holds no PEM certificate`)
    })
  })

  it.each([
    '10.0.0.7',
    '10.0.0.7:0',
    '10.0.0.7:65536',
    'redis://10.0.0.7:7000',
    'a:1,,b:2',
    'fd00::7:7001',
  ])('refuses REDIS_CLUSTER_NODES=%s, naming it', (value) => {
    const { REDIS_URL: _url, ...withoutUrl } = PRODUCTION
    const message = messageOf({ ...withoutUrl, REDIS_CLUSTER_NODES: value })
    expect(message).toContain('REDIS_CLUSTER_NODES: "')
    expect(message).toContain('is not host:port')
  })

  it('refuses a REDIS_KEY_PREFIX with "{", which would decide every key\'s Cluster slot', () => {
    expect(messageOf({ ...PRODUCTION, REDIS_KEY_PREFIX: '{app}:' })).toContain(
      'REDIS_KEY_PREFIX: must not contain "{"',
    )
    expect(loadEnv({ ...PRODUCTION, REDIS_KEY_PREFIX: 'app:' }).REDIS_KEY_PREFIX).toBe('app:')
  })

  it('refuses an AUTH_SECRET under 32 bytes, naming it and never showing it', () => {
    for (const short of ['x'.repeat(31), 'shh']) {
      const message = messageOf({ ...PRODUCTION, AUTH_SECRET: short })
      expect(message).toContain('AUTH_SECRET: must be at least 32 bytes')
      expect(message).toContain('value hidden')
      expect(message).not.toContain(short)
    }
    expect(loadEnv({ ...PRODUCTION, AUTH_SECRET: 'x'.repeat(32) }).AUTH_SECRET).toBe('x'.repeat(32))
    // An empty value is no value: production refuses it as missing.
    expect(messageOf({ ...PRODUCTION, AUTH_SECRET: '' })).toContain(
      'AUTH_SECRET: is required in production',
    )
  })

  it('stores codes as HMACs unless SMS_CODE_STORAGE=plain says otherwise', () => {
    expect(loadEnv(PRODUCTION).SMS_CODE_STORAGE).toBe('hmac')
    expect(loadEnv({ ...PRODUCTION, SMS_CODE_STORAGE: 'plain' }).SMS_CODE_STORAGE).toBe('plain')
    expect(messageOf({ ...PRODUCTION, SMS_CODE_STORAGE: 'digits' })).toContain('SMS_CODE_STORAGE')
  })

  it('runs one server process unless WEB_CONCURRENCY says more', () => {
    expect(loadEnv(PRODUCTION).WEB_CONCURRENCY).toBe(1)
    expect(loadEnv({ ...PRODUCTION, WEB_CONCURRENCY: '2' }).WEB_CONCURRENCY).toBe(2)
  })

  it.each(['DATABASE_URL', 'REDIS_URL'] as const)(
    'refuses WEB_CONCURRENCY > 1 without %s, even in development',
    (name) => {
      const source: Record<string, string> = {
        DATABASE_URL: PRODUCTION.DATABASE_URL,
        REDIS_URL: PRODUCTION.REDIS_URL,
        WEB_CONCURRENCY: '2',
      }
      delete source[name]
      expect(messageOf(source)).toContain(`${name}: is required when WEB_CONCURRENCY > 1`)
    },
  )

  it.each([
    ['DATABASE_URL', 'mysql://x@y/z'],
    ['DATABASE_URL', 'postgresql://app@pooler:6432/app?pgbouncer=yes'],
    ['DATABASE_URL', 'postgresql://app@db/app?connection_limit=0'],
    ['REDIS_URL', 'http://cache:6379'],
    ['SMS_PROVIDER', 'carrier-pigeon'],
    ['PORT', 'eighty'],
    ['SMS_RESEND_SECONDS', '0'],
    ['SESSION_TTL_SECONDS', '30'],
    ['SESSION_TTL_SECONDS', String(401 * 86_400)],
    ['TRUST_PROXY', 'maybe'],
    ['WEB_CONCURRENCY', '0'],
    ['WEB_CONCURRENCY', 'all'],
  ])('refuses %s=%s, naming the variable and the value', (name, value) => {
    const message = messageOf({ ...PRODUCTION, [name]: value })
    expect(message).toContain(name)
    expect(message).toContain(JSON.stringify(value))
  })
})

describe('loadEnv: operating it (docs/contract.md section 11)', () => {
  it('serves no metrics, waits 10 s at shutdown and logs each request unless told otherwise', () => {
    const env = loadEnv({ ...PRODUCTION })
    expect(env.METRICS_PORT).toBeUndefined()
    expect(env.METRICS_HOST).toBe('127.0.0.1')
    expect(env.SHUTDOWN_TIMEOUT_SECONDS).toBe(10)
    expect(env.ACCESS_LOG).toBe(true)
  })

  it('reads the metrics address, the shutdown timeout and the access-log switch', () => {
    const env = loadEnv({
      ...PRODUCTION,
      METRICS_PORT: '9464',
      METRICS_HOST: '0.0.0.0',
      SHUTDOWN_TIMEOUT_SECONDS: '25',
      ACCESS_LOG: '0',
    })
    expect(env).toMatchObject({
      METRICS_PORT: 9464,
      METRICS_HOST: '0.0.0.0',
      SHUTDOWN_TIMEOUT_SECONDS: 25,
      ACCESS_LOG: false,
    })
    expect(loadEnv({ ...PRODUCTION, ACCESS_LOG: 'off' }).ACCESS_LOG).toBe(false)
    expect(loadEnv({ ...PRODUCTION, ACCESS_LOG: '' }).ACCESS_LOG).toBe(true)
    expect(loadEnv({ ...PRODUCTION, METRICS_PORT: '0' }).METRICS_PORT).toBe(0)
    expect(loadEnv({ ...PRODUCTION, SHUTDOWN_TIMEOUT_SECONDS: '0' }).SHUTDOWN_TIMEOUT_SECONDS).toBe(
      0,
    )
  })

  it('refuses metrics on the public port', () => {
    const message = messageOf({ ...PRODUCTION, PORT: '8080', METRICS_PORT: '8080' })
    expect(message).toContain('METRICS_PORT: must differ from PORT')
  })

  it.each([
    ['METRICS_PORT', '70000'],
    ['METRICS_PORT', 'nine'],
    ['METRICS_HOST', ''],
    ['SHUTDOWN_TIMEOUT_SECONDS', '-1'],
    ['SHUTDOWN_TIMEOUT_SECONDS', '1.5'],
    ['ACCESS_LOG', 'sometimes'],
  ])('names %s=%j as invalid', (name, value) => {
    expect(messageOf({ ...PRODUCTION, [name]: value })).toContain(`${name}: `)
  })
})

describe('loadEnv: SMS provider credentials', () => {
  it('accepts a complete production configuration for a real provider', () => {
    const env = loadEnv({ ...PRODUCTION, SMS_PROVIDER: 'ronglian', ...RONGLIAN })
    expect(env.SMS_PROVIDER).toEqual(['ronglian'])
    expect(env.SMS_TIMEOUT_MS).toBe(5_000)
  })

  it.each(Object.keys(RONGLIAN))(
    'refuses a production start with SMS_PROVIDER=ronglian and no %s, naming it',
    (name) => {
      const source: Record<string, string> = {
        ...PRODUCTION,
        SMS_PROVIDER: 'ronglian',
        ...RONGLIAN,
      }
      delete source[name]
      expect(messageOf(source)).toContain(
        `${name}: is required when SMS_PROVIDER includes ronglian (unset)`,
      )
    },
  )

  it('names every missing variable of every provider in a failover list at once', () => {
    const message = messageOf({ ...PRODUCTION, SMS_PROVIDER: 'aliyun,tencent', ...ALIYUN })
    for (const name of [
      'TENCENT_SECRET_ID',
      'TENCENT_SECRET_KEY',
      'TENCENT_SMS_SDK_APP_ID',
      'TENCENT_SMS_SIGN_NAME',
      'TENCENT_SMS_TEMPLATE_ID',
    ]) {
      expect(message).toContain(`${name}: is required when SMS_PROVIDER includes tencent`)
    }
    expect(message).not.toContain('ALIYUN_')
  })

  it.each([
    ['RONGLIAN_ACCOUNT_SID', 'ACxxxx'],
    ['RONGLIAN_TEMPLATE_ID', 'SMS_1'],
    ['RONGLIAN_BASE_URL', 'ftp://sms.internal'],
  ])('refuses a malformed %s=%s, naming the variable and the value', (name, value) => {
    const message = messageOf({
      ...PRODUCTION,
      SMS_PROVIDER: 'ronglian',
      ...RONGLIAN,
      [name]: value,
    })
    expect(message).toContain(`${name}: must be`)
    expect(message).toContain(JSON.stringify(value))
  })

  it('names a malformed secret without repeating it', () => {
    const secret = 'my-real-token-with-a-typo!'
    const message = messageOf({
      ...PRODUCTION,
      SMS_PROVIDER: 'ronglian',
      ...RONGLIAN,
      RONGLIAN_AUTH_TOKEN: secret,
    })
    expect(message).toContain('RONGLIAN_AUTH_TOKEN: must be')
    expect(message).toContain('value hidden')
    expect(message).not.toContain(secret)
  })

  it('asks for a chosen provider’s credentials outside production too', () => {
    expect(messageOf({ SMS_PROVIDER: 'twilio' })).toContain(
      'TWILIO_ACCOUNT_SID: is required when SMS_PROVIDER includes twilio',
    )
  })

  it('ignores the variables of providers that are not chosen', () => {
    expect(() => loadEnv({ ...PRODUCTION, RONGLIAN_ACCOUNT_SID: 'whatever' })).not.toThrow()
  })

  it.each([
    ['SMS_PROVIDER', 'aliyun,aliyun'],
    ['SMS_TIMEOUT_MS', '50'],
    ['SMS_TIMEOUT_MS', 'soon'],
  ])('refuses %s=%s', (name, value) => {
    const message = messageOf({ ...PRODUCTION, ...ALIYUN, SMS_PROVIDER: 'aliyun', [name]: value })
    expect(message).toContain(`${name}:`)
    expect(message).toContain(JSON.stringify(value))
  })
})

describe('loadEnv: send limits and test numbers', () => {
  it('gives the issue’s default limits', () => {
    expect(loadEnv({})).toMatchObject({
      SMS_LIMIT_MOBILE_HOUR: 5,
      SMS_LIMIT_MOBILE_DAY: 10,
      SMS_LIMIT_IP_HOUR: 20,
      SMS_LIMIT_PREFIX_HOUR: 30,
      SMS_LIMIT_GLOBAL_HOUR: 1000,
      CAPTCHA_LIMIT_IP_MINUTE: 30,
    })
    expect(loadEnv({}).SMS_TEST_NUMBERS.size).toBe(0)
  })

  it('names a limit that is not a positive integer', () => {
    expect(messageOf({ SMS_LIMIT_IP_HOUR: '0' })).toContain('SMS_LIMIT_IP_HOUR')
    expect(messageOf({ CAPTCHA_LIMIT_IP_MINUTE: 'many' })).toContain('CAPTCHA_LIMIT_IP_MINUTE')
  })

  it('parses test numbers and refuses a malformed entry without repeating the codes', () => {
    const env = loadEnv({ SMS_TEST_NUMBERS: '13800000000:123456, 19912345678:000001' })
    expect([...env.SMS_TEST_NUMBERS]).toEqual([
      ['13800000000', '123456'],
      ['19912345678', '000001'],
    ])
    const message = messageOf({ SMS_TEST_NUMBERS: '13800000000:123456,12345:654321' })
    expect(message).toContain('SMS_TEST_NUMBERS')
    expect(message).not.toContain('123456')
    expect(message).not.toContain('654321')
  })

  it('refuses test numbers in production unless SMS_TEST_NUMBERS_IN_PRODUCTION=1', () => {
    const withNumbers = { ...PRODUCTION, SMS_TEST_NUMBERS: '13800000000:123456' }
    expect(messageOf(withNumbers)).toContain('SMS_TEST_NUMBERS_IN_PRODUCTION=1')
    const env = loadEnv({ ...withNumbers, SMS_TEST_NUMBERS_IN_PRODUCTION: '1' })
    expect(env.SMS_TEST_NUMBERS.get('13800000000')).toBe('123456')
  })
})

describe('loadEnv: sign-in limits', () => {
  it('gives the contract’s defaults: 10 failed sign-ins per mobile, 100 per IP, 10 wrong codes', () => {
    expect(loadEnv({})).toMatchObject({
      LOGIN_LIMIT_MOBILE_15MIN: 10,
      LOGIN_LIMIT_IP_HOUR: 100,
      SMS_VERIFY_LIMIT_MOBILE_DAY: 10,
    })
  })

  it('reads each limit, and names one that is not a positive integer', () => {
    expect(
      loadEnv({
        LOGIN_LIMIT_MOBILE_15MIN: '3',
        LOGIN_LIMIT_IP_HOUR: '40',
        SMS_VERIFY_LIMIT_MOBILE_DAY: '7',
      }),
    ).toMatchObject({
      LOGIN_LIMIT_MOBILE_15MIN: 3,
      LOGIN_LIMIT_IP_HOUR: 40,
      SMS_VERIFY_LIMIT_MOBILE_DAY: 7,
    })
    for (const [name, value] of [
      ['LOGIN_LIMIT_MOBILE_15MIN', '0'],
      ['LOGIN_LIMIT_IP_HOUR', 'plenty'],
      ['SMS_VERIFY_LIMIT_MOBILE_DAY', '2.5'],
    ] as const) {
      const message = messageOf({ ...PRODUCTION, [name]: value })
      expect(message).toContain(name)
      expect(message.split('\n')).toHaveLength(2)
    }
  })
})
