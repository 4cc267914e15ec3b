import { z } from 'zod'
import {
  checkSmsProviderEnv,
  SMS_PROVIDER_NAMES,
  SMS_SECRET_VARIABLES,
  smsEnvShape,
} from '@signup/sms/provider-config'
import type { SmsProviderName } from '@signup/sms/provider-config'

/** SMS providers this build can send through; `console` only logs (CONTRACT section 7). */
export const SMS_PROVIDERS = SMS_PROVIDER_NAMES
export type { SmsProviderName }

const flag = z
  .enum(['1', 'true', 'on', 'yes', '0', 'false', 'off', 'no', ''])
  .default('')
  .transform((value) => ['1', 'true', 'on', 'yes'].includes(value))

const seconds = (fallback: number) => z.coerce.number().int().min(1).max(86_400).default(fallback)

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
    PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATABASE_URL: urlWith(/^postgres(ql)?:$/, 'postgres:// or postgresql://'),
    REDIS_URL: urlWith(/^rediss?:$/, 'redis:// or rediss://'),
    REDIS_KEY_PREFIX: z.string().default(''),
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
    // Up to 400 days, the longest cookie lifetime browsers keep.
    SESSION_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(400 * 86_400)
      .default(7 * 86_400),
    TRUST_PROXY: flag,
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
  })
  .superRefine((env, ctx) => {
    // A chosen provider cannot start without its credentials, in any mode.
    for (const issue of checkSmsProviderEnv(env.SMS_PROVIDER ?? [], env)) {
      ctx.addIssue({ code: 'custom', path: [issue.variable], message: issue.message })
    }
    if (env.NODE_ENV !== 'production') return
    // Production never falls back to the embedded dev stores or the console provider by accident.
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'SMS_PROVIDER'] as const) {
      if (env[name] === undefined) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'is required in production' })
      }
    }
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
        : SMS_SECRET_VARIABLES.includes(name)
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
