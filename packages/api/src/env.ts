import { readFileSync } from 'node:fs'
import { z } from 'zod'
import {
  checkSmsProviderEnv,
  SMS_PROVIDER_NAMES,
  SMS_SECRET_VARIABLES,
  smsEnvShape,
} from '@signup/sms/provider-config'
import type { SmsProviderName } from '@signup/sms/provider-config'
import { AUTH_SECRET_MIN_BYTES } from '@signup/auth/sms-code-at-rest'
import { readDatabaseUrl } from '@signup/db/database-url'
import { keyPrefixProblem } from '@signup/kv/hash-tag'
import type { ClusterNodeAddress } from '@signup/kv/redis-store'

/** SMS providers this build can send through; `console` only logs (docs/contract.md section 7). */
export const SMS_PROVIDERS = SMS_PROVIDER_NAMES
export type { SmsProviderName }

/** A switch: `1`/`true`/`on`/`yes` or `0`/`false`/`off`/`no`; unset or empty is `fallback`. */
const flag = (fallback = false) =>
  z
    .enum(['1', 'true', 'on', 'yes', '0', 'false', 'off', 'no', ''])
    .default('')
    .transform((value) => (value === '' ? fallback : ['1', 'true', 'on', 'yes'].includes(value)))

const port = z.coerce.number().int().min(0).max(65_535)

const seconds = (fallback: number) => z.coerce.number().int().min(1).max(86_400).default(fallback)

/** Sends or captchas allowed per window; the upper bound only catches typos. */
const limit = (fallback: number) =>
  z.coerce.number().int().min(1).max(1_000_000_000).default(fallback)

/** `13800000000:123456,...`: mainland mobiles, each with its fixed 6-digit code. */
const testNumbers = z
  .string()
  .default('')
  .transform((value, ctx): ReadonlyMap<string, string> => {
    const numbers = new Map<string, string>()
    for (const entry of value.split(',').map((part) => part.trim())) {
      if (entry === '') continue
      const match = /^(1[3-9]\d{9}):(\d{6})$/.exec(entry)
      if (!match?.[1] || !match[2]) {
        ctx.addIssue({
          code: 'custom',
          message: `"${entry.replace(/:.*/, ':…')}" is not <11-digit mobile>:<6-digit code>`,
        })
        return z.NEVER
      }
      numbers.set(match[1], match[2])
    }
    return numbers
  })

/** `host:port,...`: nodes of a Redis Cluster (a host may be a name, an IPv4 or a [bracketed] IPv6). */
const clusterNodes = z
  .string()
  .optional()
  .transform((value, ctx): ClusterNodeAddress[] | undefined => {
    if (value === undefined || value.trim() === '') return undefined
    const nodes: ClusterNodeAddress[] = []
    for (const entry of value.split(',').map((part) => part.trim())) {
      const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry)
      const port = Number(match?.[2])
      if (!match?.[1] || !(port >= 1 && port <= 65_535)) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not host:port` })
        return z.NEVER
      }
      nodes.push({ host: match[1].replace(/^\[(.*)\]$/, '$1'), port })
    }
    return nodes
  })

/** A value that may be unset; empty is unset too. */
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === '' ? undefined : value))

/** The path of a PEM CA bundle, read at start: its path and contents. */
const caBundle = optionalText.transform((path, ctx): { path: string; pem: string } | undefined => {
  if (path === undefined) return undefined
  let pem: string
  try {
    pem = readFileSync(path, 'utf8')
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(error as Error).message}` })
    return z.NEVER
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    ctx.addIssue({ code: 'custom', message: `${path} holds no PEM certificate` })
    return z.NEVER
  }
  return { path, pem }
})

const urlWith = (protocols: RegExp, what: string) =>
  z
    .string()
    .refine((value) => {
      try {
        return protocols.test(new URL(value).protocol)
      } catch {
        return false
      }
    }, `must be a ${what} URL`)
    .optional()

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: port.default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    // Its pgbouncer= and connection_limit= as Prisma names them (decision record 020).
    DATABASE_URL: urlWith(/^postgres(ql)?:$/, 'postgres:// or postgresql://').superRefine(
      (value, ctx) => {
        if (value === undefined || !URL.canParse(value)) return
        try {
          readDatabaseUrl(value)
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message })
        }
      },
    ),
    REDIS_URL: urlWith(/^rediss?:$/, 'redis:// or rediss://'),
    // The alternative to REDIS_URL: a Redis Cluster, reached through any of these nodes.
    REDIS_CLUSTER_NODES: clusterNodes,
    // A managed cluster's AUTH and TLS, for every node (REDIS_URL carries its own in the URL).
    REDIS_CLUSTER_USERNAME: optionalText,
    REDIS_CLUSTER_PASSWORD: optionalText,
    REDIS_CLUSTER_TLS: flag(),
    // Unset: Node's trusted roots.
    REDIS_CLUSTER_TLS_CA: caBundle,
    REDIS_KEY_PREFIX: z
      .string()
      .default('')
      .superRefine((value, ctx) => {
        const problem = keyPrefixProblem(value)
        if (problem) ctx.addIssue({ code: 'custom', message: problem })
      }),
    SMS_PROVIDER: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined || value.trim() === '') return undefined
        const names = value.split(',').map((name) => name.trim())
        if (new Set(names).size !== names.length) {
          ctx.addIssue({ code: 'custom', message: 'names a provider twice' })
          return z.NEVER
        }
        for (const name of names) {
          if (!(SMS_PROVIDERS as readonly string[]).includes(name)) {
            ctx.addIssue({
              code: 'custom',
              message: `unknown provider "${name}" (known: ${SMS_PROVIDERS.join(', ')})`,
            })
            return z.NEVER
          }
        }
        return names as SmsProviderName[]
      }),
    // SMS_TIMEOUT_MS and every provider's variables, checked below for the providers chosen.
    ...smsEnvShape,
    IMAGE_CODE_TTL_SECONDS: seconds(300),
    SMS_CODE_TTL_SECONDS: seconds(300),
    SMS_RESEND_SECONDS: seconds(60),
    SMS_LIMIT_MOBILE_HOUR: limit(5),
    SMS_LIMIT_MOBILE_DAY: limit(10),
    SMS_LIMIT_IP_HOUR: limit(20),
    SMS_LIMIT_PREFIX_HOUR: limit(30),
    SMS_LIMIT_GLOBAL_HOUR: limit(1000),
    CAPTCHA_LIMIT_IP_MINUTE: limit(30),
    // Failed password sign-ins, and wrong SMS codes across codes and purposes (decision 014).
    LOGIN_LIMIT_MOBILE_15MIN: limit(10),
    LOGIN_LIMIT_IP_HOUR: limit(100),
    SMS_VERIFY_LIMIT_MOBILE_DAY: limit(10),
    SMS_TEST_NUMBERS: testNumbers,
    SMS_TEST_NUMBERS_IN_PRODUCTION: flag(),
    // Up to 400 days, the longest cookie lifetime browsers keep.
    SESSION_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(400 * 86_400)
      .default(7 * 86_400),
    // Key of the stored SMS codes' HMAC (decision record 017); dev generates one under DATA_DIR.
    AUTH_SECRET: z
      .string()
      .optional()
      .transform((value) => (value === '' ? undefined : value))
      .refine(
        (value) => value === undefined || Buffer.byteLength(value) >= AUTH_SECRET_MIN_BYTES,
        `must be at least ${AUTH_SECRET_MIN_BYTES} bytes (openssl rand -base64 48 makes one)`,
      ),
    SMS_CODE_STORAGE: z.enum(['hmac', 'plain']).default('hmac'),
    TRUST_PROXY: flag(),
    ALLOWED_ORIGINS: z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((origin) => origin.trim())
          .filter(Boolean),
      ),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    DATA_DIR: z.string().min(1).default('.data'),
    // Server processes sharing the port (node:cluster); one per core is usual in production.
    WEB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
    // /metrics for Prometheus on a port of its own, never the public one; unset: not served.
    METRICS_PORT: port.optional(),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    // How long SIGTERM/SIGINT lets the requests in flight finish before the stores close.
    SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
    // One log line per request (method, route, status, duration, request id).
    ACCESS_LOG: flag(true),
    // Open connections per server process; at the cap the longest-idle one is closed for a new
    // one (apps/web/server/connections.ts). Kept below the open-file limit at start.
    MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(4096),
    // From a connection's first byte (or a keep-alive request's) to its last header: a connection
    // that sends nothing, or its headers a byte at a time, is closed after this.
    HEADERS_TIMEOUT_SECONDS: seconds(10),
    // From a request's first byte to its last body byte.
    REQUEST_TIMEOUT_SECONDS: seconds(30),
    // An idle keep-alive connection is closed after this: longer than a load balancer's own idle
    // timeout (60 s is usual), so the balancer closes first and never sends on a closing one.
    KEEP_ALIVE_TIMEOUT_SECONDS: seconds(65),
  })
  .superRefine((env, ctx) => {
    const require = (names: readonly (keyof typeof env)[], message: string): void => {
      for (const name of names) {
        if (env[name] === undefined) ctx.addIssue({ code: 'custom', path: [name], message })
      }
    }
    // A chosen provider cannot start without its credentials, in any mode.
    for (const issue of checkSmsProviderEnv(env.SMS_PROVIDER ?? [], env)) {
      ctx.addIssue({ code: 'custom', path: [issue.variable], message: issue.message })
    }
    if (env.REDIS_URL !== undefined && env.REDIS_CLUSTER_NODES !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message:
          'and REDIS_URL are both set: set REDIS_URL for one Redis server or REDIS_CLUSTER_NODES for a Redis Cluster, not both',
      })
    }
    const clusterSettings = {
      REDIS_CLUSTER_USERNAME: env.REDIS_CLUSTER_USERNAME !== undefined,
      REDIS_CLUSTER_PASSWORD: env.REDIS_CLUSTER_PASSWORD !== undefined,
      REDIS_CLUSTER_TLS: env.REDIS_CLUSTER_TLS,
      REDIS_CLUSTER_TLS_CA: env.REDIS_CLUSTER_TLS_CA !== undefined,
    }
    for (const [name, set] of Object.entries(clusterSettings)) {
      if (!set || env.REDIS_CLUSTER_NODES !== undefined) continue
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message:
          env.REDIS_URL === undefined
            ? 'is set but REDIS_CLUSTER_NODES is not: it applies to a Redis Cluster only'
            : 'is set with REDIS_URL: it applies to a Redis Cluster only (REDIS_URL carries its own user, password and rediss://)',
      })
    }
    if (env.REDIS_CLUSTER_USERNAME !== undefined && env.REDIS_CLUSTER_PASSWORD === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_USERNAME'],
        message: 'is set but REDIS_CLUSTER_PASSWORD is not: an ACL user signs in with both',
      })
    }
    if (env.REDIS_CLUSTER_TLS_CA !== undefined && !env.REDIS_CLUSTER_TLS) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_TLS_CA'],
        message: 'is set but REDIS_CLUSTER_TLS is not on: set REDIS_CLUSTER_TLS=1 for TLS',
      })
    }
    const redisSet = env.REDIS_URL !== undefined || env.REDIS_CLUSTER_NODES !== undefined
    const requireRedis = (message: string): void => {
      if (!redisSet) ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message })
    }
    // Workers share state only through Redis and Postgres, never the in-process dev stand-ins.
    if (env.WEB_CONCURRENCY > 1) {
      const why = 'is required when WEB_CONCURRENCY > 1 (workers share only Redis and Postgres)'
      require(['DATABASE_URL'], why)
      requireRedis(`${why}; or REDIS_CLUSTER_NODES`)
    }
    if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
      ctx.addIssue({
        code: 'custom',
        path: ['METRICS_PORT'],
        message: 'must differ from PORT: /metrics is never served on the public port',
      })
    }
    if (env.HEADERS_TIMEOUT_SECONDS > env.REQUEST_TIMEOUT_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HEADERS_TIMEOUT_SECONDS'],
        message: `must not exceed REQUEST_TIMEOUT_SECONDS (${env.REQUEST_TIMEOUT_SECONDS}): the headers are part of the request`,
      })
    }
    if (env.NODE_ENV !== 'production') return
    // Fixed codes in production are a back door unless an operator says so in as many words.
    if (env.SMS_TEST_NUMBERS.size > 0 && !env.SMS_TEST_NUMBERS_IN_PRODUCTION) {
      ctx.addIssue({
        code: 'custom',
        path: ['SMS_TEST_NUMBERS'],
        message: 'is refused in production unless SMS_TEST_NUMBERS_IN_PRODUCTION=1',
      })
    }
    // Production never falls back to the embedded dev stores or the console provider by accident.
    require(['DATABASE_URL', 'SMS_PROVIDER'], 'is required in production')
    requireRedis('is required in production (or REDIS_CLUSTER_NODES, for a Redis Cluster)')
    require([
      'AUTH_SECRET',
    ], `is required in production (at least ${AUTH_SECRET_MIN_BYTES} random bytes: openssl rand -base64 48)`)
  })

export type Env = z.output<typeof envSchema>

export class EnvError extends Error {
  override readonly name = 'EnvError'
}

/** Validates the environment once; the message names every variable that is missing or invalid. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const parsed = envSchema.safeParse(source)
  if (parsed.success) return parsed.data
  const lines = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.') || 'environment'
    const value = source[name]
    const shown =
      value === undefined
        ? 'unset'
        : SMS_SECRET_VARIABLES.includes(name) ||
            name === 'SMS_TEST_NUMBERS' ||
            name === 'AUTH_SECRET' ||
            name === 'REDIS_CLUSTER_PASSWORD'
          ? 'value hidden'
          : `got ${JSON.stringify(hidePassword(value))}`
    return `  ${name}: ${issue.message} (${shown})`
  })
  return failWith(`Invalid configuration:\n${lines.join('\n')}`)
}

/** A URL's password never reaches a log, even in a start-up error. */
function hidePassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@')
}

function failWith(message: string): never {
  throw new EnvError(message)
}
