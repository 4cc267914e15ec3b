import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createAuthServices } from '@signup/auth/services'
import type { AuthServices, PasswordHasher, PasswordVerifier } from '@signup/auth/ports'
import { createDb } from '@signup/db/client'
import type { Db } from '@signup/db/client'
import { readDatabaseUrl } from '@signup/db/database-url'
import { createUserDirectory } from '@signup/db/user-directory'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import type { RateLimiter } from '@signup/kv/rate-limiter'
import { RedisLimiter } from '@signup/kv/redis-limiter'
import { RedisStore } from '@signup/kv/redis-store'
import type { RedisConnection } from '@signup/kv/redis-store'
import type { KeyValueStore } from '@signup/kv/store'
import { createConfiguredSender } from '@signup/sms/configured-sender'
import type { SmsSender } from '@signup/sms/sender'
import type { Env, SmsProviderName } from './env.ts'
import { checkStores } from './health.ts'
import type { StoreHealth } from './health.ts'
import { createMetrics, noMetrics } from './metrics.ts'
import type { AppMetrics } from './metrics.ts'
import { countStoreErrors, STORE_OPERATIONS } from './store-errors.ts'
import type { Logger } from './logger.ts'

/** Everything one server process holds: the domain services and the connections behind them. */
export interface AppServices {
  auth: AuthServices
  kv: KeyValueStore
  db: Db
  /** What /metrics shows: counted only with METRICS_PORT set, nothing otherwise. */
  metrics: AppMetrics
  /** One line for the start-up log: which stores and provider are in use. */
  description: string
  health(): Promise<StoreHealth>
  close(): Promise<void>
}

/** Connections per process to DATABASE_URL unless its connection_limit says otherwise (pg's default). */
const DEFAULT_POOL_SIZE = 10

/**
 * The composition root. With DATABASE_URL / REDIS_URL (or REDIS_CLUSTER_NODES) set it uses them;
 * without (development only, enforced by loadEnv) it falls back to embedded PGlite under DATA_DIR
 * and an in-process store.
 */
export async function createAppServices(
  env: Env,
  logger: Logger,
  overrides: {
    sms?: SmsSender
    kv?: KeyValueStore
    /** Tests wrap production's scrypt to see the work it is asked to do. */
    passwordHasher?: PasswordHasher & PasswordVerifier
  } = {},
): Promise<AppServices> {
  const closers: (() => Promise<void>)[] = []
  const providers: SmsProviderName[] = env.SMS_PROVIDER ?? ['console']
  const metrics =
    env.METRICS_PORT === undefined
      ? noMetrics
      : createMetrics({
          providers,
          globalHourLimit: env.SMS_LIMIT_GLOBAL_HOUR,
          storeOperations: STORE_OPERATIONS,
        })

  let kv: KeyValueStore
  let limiter: RateLimiter
  let redisLabel: string
  const redisServer = redisConnectionOf(env)
  if (overrides.kv) {
    kv = overrides.kv
    limiter = new MemoryLimiter()
    redisLabel = 'injected store'
  } else if (redisServer) {
    const redis = new RedisStore({ ...redisServer.connection, keyPrefix: env.REDIS_KEY_PREFIX })
    // Start even if Redis is down: requests answer DBERR and the client reconnects by itself.
    await redis.ready().catch((error: unknown) => {
      logger.warn({ err: error }, 'redis not reachable at start; will keep retrying')
    })
    kv = redis
    // The limits share the store's connections and key prefix: one more EVALSHA, no new socket;
    // one per hash-tag group on a Cluster (RedisLimiter picks the mode).
    limiter = new RedisLimiter(redis.redis)
    redisLabel = redisServer.label
  } else {
    kv = new MemoryStore()
    const memoryLimiter = new MemoryLimiter()
    closers.push(() => memoryLimiter.close())
    limiter = memoryLimiter
    redisLabel = 'in-process store (dev default, REDIS_URL and REDIS_CLUSTER_NODES unset)'
  }
  closers.push(() => kv.close())

  let databaseUrl = env.DATABASE_URL
  // pgbouncer=true: a pooler in transaction mode, where no session state lasts (decision 020).
  const { pgbouncer, connectionLimit } = databaseUrl
    ? readDatabaseUrl(databaseUrl)
    : { pgbouncer: false, connectionLimit: undefined }
  let postgresLabel = databaseUrl
    ? `postgres ${redactUrl(databaseUrl)}` +
      (pgbouncer ? ' (through a transaction pooler: no named statements)' : '')
    : ''
  if (!databaseUrl) {
    // Loaded only here: a server with DATABASE_URL (every production one) never loads PGlite.
    const { embeddedDataDir, startEmbeddedPostgres } = await import('@signup/db/embedded')
    const { migrateDatabase } = await import('@signup/db/migrate')
    const dataDir = embeddedDataDir(env.DATA_DIR)
    const embedded = await startEmbeddedPostgres({ dataDir, port: 0 })
    await migrateDatabase(embedded.url)
    closers.push(() => embedded.stop())
    databaseUrl = embedded.url
    postgresLabel = `embedded PGlite at ${path.relative(process.cwd(), dataDir) || dataDir} (dev default, DATABASE_URL unset)`
  }
  const db = createDb({
    url: databaseUrl,
    max: env.DATABASE_URL ? (connectionLimit ?? DEFAULT_POOL_SIZE) : 1,
  })
  closers.unshift(() => db.close())

  const sms =
    overrides.sms ??
    createConfiguredSender(providers, env, {
      logger,
      production: env.NODE_ENV === 'production',
      metrics: metrics.sms,
    })

  const secret = env.AUTH_SECRET
    ? { value: env.AUTH_SECRET, file: '' }
    : await devAuthSecret(env.DATA_DIR)
  // The embedded database serves every connection from one session (decision record 012), and
  // a transaction pooler hands each transaction whichever session is free (020).
  const users = createUserDirectory(db, {
    namedStatements: Boolean(env.DATABASE_URL) && !pgbouncer,
  })
  const stores = { kv, limiter, users }
  const auth = createAuthServices({
    ...(metrics.registry ? countStoreErrors(stores, metrics.stores) : stores),
    authSecret: secret.value,
    smsCodeStorage: env.SMS_CODE_STORAGE,
    sms,
    logger,
    metrics: metrics.auth,
    config: {
      imageCodeTtlSeconds: env.IMAGE_CODE_TTL_SECONDS,
      smsCodeTtlSeconds: env.SMS_CODE_TTL_SECONDS,
      smsResendSeconds: env.SMS_RESEND_SECONDS,
      sessionTtlSeconds: env.SESSION_TTL_SECONDS,
      limits: {
        mobileHour: env.SMS_LIMIT_MOBILE_HOUR,
        mobileDay: env.SMS_LIMIT_MOBILE_DAY,
        ipHour: env.SMS_LIMIT_IP_HOUR,
        prefixHour: env.SMS_LIMIT_PREFIX_HOUR,
        globalHour: env.SMS_LIMIT_GLOBAL_HOUR,
        captchaIpMinute: env.CAPTCHA_LIMIT_IP_MINUTE,
      },
      attemptLimits: {
        loginMobile15Min: env.LOGIN_LIMIT_MOBILE_15MIN,
        loginIpHour: env.LOGIN_LIMIT_IP_HOUR,
        wrongCodeMobileDay: env.SMS_VERIFY_LIMIT_MOBILE_DAY,
      },
      testNumbers: env.SMS_TEST_NUMBERS,
    },
    ...(overrides.passwordHasher
      ? { passwordHasher: overrides.passwordHasher, passwordVerifier: overrides.passwordHasher }
      : {}),
  })

  return {
    auth,
    kv,
    db,
    metrics,
    description:
      `postgres: ${postgresLabel}; redis: ${redisLabel}; sms: ${sms.name}` +
      (env.SMS_TEST_NUMBERS.size > 0 ? `; ${env.SMS_TEST_NUMBERS.size} test number(s)` : '') +
      (env.SMS_CODE_STORAGE === 'plain'
        ? '; sms codes: PLAIN register codes in SMS_<mobile> (SMS_CODE_STORAGE=plain, the weaker mode: for a cut-over only)'
        : '; sms codes: hmac') +
      (env.AUTH_SECRET
        ? ''
        : `; AUTH_SECRET: dev default, in ${path.relative(process.cwd(), secret.file)}`),
    health: () => checkStores({ postgres: () => db.ping(), redis: () => kv.ping() }),
    async close() {
      for (const close of closers) await close().catch(() => undefined)
    },
  }
}

/**
 * Development's AUTH_SECRET (loadEnv requires one in production): made once under DATA_DIR and
 * kept, so codes sent before a restart still verify after it. `wx` lets one of several workers
 * starting at once write it; the others read what it wrote.
 */
async function devAuthSecret(dataDir: string): Promise<{ value: string; file: string }> {
  // Only without AUTH_SECRET, which production requires: the embedded database's module stays unloaded there.
  const { embeddedDataDir } = await import('@signup/db/embedded')
  const file = path.join(path.dirname(embeddedDataDir(dataDir)), 'auth-secret')
  const read = async () => (await readFile(file, 'utf8')).trim()
  try {
    return { value: await read(), file }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(path.dirname(file), { recursive: true })
  try {
    await writeFile(file, `${randomBytes(48).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  return { value: await read(), file }
}

/** Where REDIS_URL or REDIS_CLUSTER_NODES (never both: loadEnv) says Redis is, and its log label. */
function redisConnectionOf(env: Env): { connection: RedisConnection; label: string } | null {
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = env.REDIS_CLUSTER_NODES
    const password = env.REDIS_CLUSTER_PASSWORD
    const ca = env.REDIS_CLUSTER_TLS_CA
    // The label says that AUTH and TLS are on, never the password.
    const security = [
      password !== undefined &&
        `auth${env.REDIS_CLUSTER_USERNAME ? ` as ${env.REDIS_CLUSTER_USERNAME}` : ''}`,
      env.REDIS_CLUSTER_TLS && `tls${ca ? ` (CA ${ca.path})` : ''}`,
    ].filter(Boolean)
    return {
      connection: {
        clusterNodes: nodes,
        ...(password !== undefined && {
          auth: { username: env.REDIS_CLUSTER_USERNAME, password },
        }),
        ...(env.REDIS_CLUSTER_TLS && { tls: { ca: ca?.pem } }),
      },
      label:
        `redis cluster via ${nodes.map(nodeAddress).join(',')}` +
        (security.length > 0 ? `, ${security.join(', ')}` : ''),
    }
  }
  if (env.REDIS_URL)
    return { connection: { url: env.REDIS_URL }, label: `redis ${redactUrl(env.REDIS_URL)}` }
  return null
}

/** `host:port`, with an IPv6 host in brackets as REDIS_CLUSTER_NODES wrote it. */
function nodeAddress(node: { host: string; port: number }): string {
  return `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`
}

/** Logs name the host, never the password. */
function redactUrl(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.toString()
}
