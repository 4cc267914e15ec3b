import { z } from 'zod'
import { ALIYUN_BASE_URL } from './aliyun-sender.ts'
import { DEFAULT_TIMEOUT_MS } from './provider-http.ts'
import { RONGLIAN_BASE_URL } from './ronglian-sender.ts'
import { TENCENT_BASE_URL } from './tencent-sender.ts'
import { TWILIO_BASE_URL, TWILIO_DEFAULT_TEMPLATE } from './twilio-sender.ts'

/** Every name SMS_PROVIDER accepts; a comma list of them is a failover order. */
export const SMS_PROVIDER_NAMES = ['console', 'ronglian', 'aliyun', 'tencent', 'twilio'] as const
export type SmsProviderName = (typeof SMS_PROVIDER_NAMES)[number]
export type RemoteProviderName = Exclude<SmsProviderName, 'console'>

const matching = (pattern: RegExp, what: string) => z.string().regex(pattern, `must be ${what}`)

const baseUrl = (fallback: string) =>
  z
    .string()
    .refine((value) => {
      try {
        const url = new URL(value)
        return (url.protocol === 'https:' || url.protocol === 'http:') && !url.search && !url.hash
      } catch {
        return false
      }
    }, 'must be an http:// or https:// URL without query or fragment')
    .optional()
    .transform((value) => (value ?? fallback).replace(/\/+$/, ''))

const hex32 = (what: string) => matching(/^[0-9a-fA-F]{32}$/, `the 32-hex-digit ${what}`)

export const ronglianEnvSchema = z
  .object({
    RONGLIAN_ACCOUNT_SID: hex32('ACCOUNT SID'),
    RONGLIAN_AUTH_TOKEN: hex32('AUTH TOKEN'),
    RONGLIAN_APP_ID: hex32('APP ID'),
    RONGLIAN_TEMPLATE_ID: matching(/^\d{1,12}$/, 'the numeric template id'),
    RONGLIAN_BASE_URL: baseUrl(RONGLIAN_BASE_URL),
  })
  .transform((env) => ({
    accountSid: env.RONGLIAN_ACCOUNT_SID,
    authToken: env.RONGLIAN_AUTH_TOKEN,
    appId: env.RONGLIAN_APP_ID,
    templateId: env.RONGLIAN_TEMPLATE_ID,
    baseUrl: env.RONGLIAN_BASE_URL,
  }))

const templateVariable = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/

export const aliyunEnvSchema = z
  .object({
    ALIYUN_ACCESS_KEY_ID: matching(/^[A-Za-z0-9]{12,64}$/, 'an AccessKey ID (letters and digits)'),
    ALIYUN_ACCESS_KEY_SECRET: matching(
      /^[A-Za-z0-9]{16,64}$/,
      'an AccessKey secret (letters and digits)',
    ),
    ALIYUN_SMS_SIGN_NAME: matching(
      /^\S(.{0,62}\S)?$/,
      'the approved sign name, without spaces around',
    ),
    ALIYUN_SMS_TEMPLATE_CODE: matching(/^SMS_\d+$/, 'a template code like SMS_123456789'),
    ALIYUN_SMS_TEMPLATE_PARAMS: z
      .string()
      .optional()
      .transform((value) => (value ?? 'code').split(',').map((name) => name.trim()))
      .refine(
        (names) => names.length <= 2 && names.every((name) => templateVariable.test(name)),
        'must be one or two template variable names, comma separated (code first)',
      ),
    ALIYUN_SMS_BASE_URL: baseUrl(ALIYUN_BASE_URL),
  })
  .transform((env) => ({
    accessKeyId: env.ALIYUN_ACCESS_KEY_ID,
    accessKeySecret: env.ALIYUN_ACCESS_KEY_SECRET,
    signName: env.ALIYUN_SMS_SIGN_NAME,
    templateCode: env.ALIYUN_SMS_TEMPLATE_CODE,
    templateParams: env.ALIYUN_SMS_TEMPLATE_PARAMS,
    baseUrl: env.ALIYUN_SMS_BASE_URL,
  }))

export const tencentEnvSchema = z
  .object({
    TENCENT_SECRET_ID: matching(/^AKID[A-Za-z0-9]{16,60}$/, 'a SecretId starting with AKID'),
    TENCENT_SECRET_KEY: matching(/^[A-Za-z0-9]{16,64}$/, 'a SecretKey (letters and digits)'),
    TENCENT_SMS_SDK_APP_ID: matching(/^\d{10}$/, 'the 10-digit SmsSdkAppId'),
    TENCENT_SMS_SIGN_NAME: matching(
      /^\S(.{0,62}\S)?$/,
      'the approved sign name, without spaces around',
    ),
    TENCENT_SMS_TEMPLATE_ID: matching(/^\d{1,12}$/, 'the numeric template id'),
    TENCENT_SMS_REGION: matching(/^[a-z]{2}-[a-z]+$/, 'a region like ap-guangzhou')
      .optional()
      .transform((value) => value ?? 'ap-guangzhou'),
    TENCENT_SMS_TEMPLATE_PARAMS: z
      .enum(['code,minutes', 'code'], { error: 'must be "code,minutes" or "code"' })
      .optional()
      .transform((value) => value ?? 'code,minutes'),
    TENCENT_SMS_BASE_URL: baseUrl(TENCENT_BASE_URL),
  })
  .transform((env) => ({
    secretId: env.TENCENT_SECRET_ID,
    secretKey: env.TENCENT_SECRET_KEY,
    sdkAppId: env.TENCENT_SMS_SDK_APP_ID,
    signName: env.TENCENT_SMS_SIGN_NAME,
    templateId: env.TENCENT_SMS_TEMPLATE_ID,
    region: env.TENCENT_SMS_REGION,
    templateParams: env.TENCENT_SMS_TEMPLATE_PARAMS,
    baseUrl: env.TENCENT_SMS_BASE_URL,
  }))

export const twilioEnvSchema = z
  .object({
    TWILIO_ACCOUNT_SID: matching(/^AC[0-9a-fA-F]{32}$/, 'an Account SID (AC and 32 hex digits)'),
    TWILIO_AUTH_TOKEN: matching(/^[0-9A-Za-z]{32}$/, 'the 32-character Auth Token'),
    TWILIO_FROM: matching(
      /^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$/,
      'an E.164 number (+15005550006) or a Messaging Service SID (MG...)',
    ),
    TWILIO_MESSAGE_TEMPLATE: z
      .string()
      .max(1_600, 'must be at most 1600 characters')
      .refine((value) => value.includes('{code}'), 'must contain {code}')
      .optional()
      .transform((value) => value ?? TWILIO_DEFAULT_TEMPLATE),
    TWILIO_BASE_URL: baseUrl(TWILIO_BASE_URL),
  })
  .transform((env) => ({
    accountSid: env.TWILIO_ACCOUNT_SID,
    authToken: env.TWILIO_AUTH_TOKEN,
    from: env.TWILIO_FROM,
    template: env.TWILIO_MESSAGE_TEMPLATE,
    baseUrl: env.TWILIO_BASE_URL,
  }))

export const SMS_PROVIDER_ENV_SCHEMAS = {
  ronglian: ronglianEnvSchema,
  aliyun: aliyunEnvSchema,
  tencent: tencentEnvSchema,
  twilio: twilioEnvSchema,
} as const

export type RonglianSettings = z.output<typeof ronglianEnvSchema>
export type AliyunSettings = z.output<typeof aliyunEnvSchema>
export type TencentSettings = z.output<typeof tencentEnvSchema>
export type TwilioSettings = z.output<typeof twilioEnvSchema>

export interface SmsProviderSettings {
  timeoutMs: number
  ronglian?: RonglianSettings
  aliyun?: AliyunSettings
  tencent?: TencentSettings
  twilio?: TwilioSettings
}

const keysOf = <T extends z.ZodRawShape>(shape: T) => Object.keys(shape) as (keyof T & string)[]

/** Each provider's variables, in the order the README lists them. */
export const SMS_PROVIDER_VARIABLES = {
  ronglian: keysOf(ronglianEnvSchema.in.shape),
  aliyun: keysOf(aliyunEnvSchema.in.shape),
  tencent: keysOf(tencentEnvSchema.in.shape),
  twilio: keysOf(twilioEnvSchema.in.shape),
}
export type SmsProviderVariable = (typeof SMS_PROVIDER_VARIABLES)[RemoteProviderName][number]

/** Values that must never be echoed, not even in a start-up error. */
export const SMS_SECRET_VARIABLES: readonly string[] = [
  'RONGLIAN_AUTH_TOKEN',
  'ALIYUN_ACCESS_KEY_SECRET',
  'TENCENT_SECRET_KEY',
  'TWILIO_AUTH_TOKEN',
]

const timeoutMs = z.coerce.number().int().min(100).max(60_000).default(DEFAULT_TIMEOUT_MS)

const rawVariable = z.string().optional()

/**
 * The SMS part of the environment schema, for the application's env validation to spread into
 * its object: SMS_TIMEOUT_MS, and every provider variable as a raw string, checked later by
 * checkSmsProviderEnv against the providers SMS_PROVIDER names.
 */
export const smsEnvShape = {
  SMS_TIMEOUT_MS: timeoutMs,
  ...(Object.fromEntries(
    Object.values(SMS_PROVIDER_VARIABLES)
      .flat()
      .map((name) => [name, rawVariable]),
  ) as Record<SmsProviderVariable, typeof rawVariable>),
}

export interface SmsEnvIssue {
  variable: string
  message: string
}

/** Names every missing or malformed variable of the chosen providers; empty when all is well. */
export function checkSmsProviderEnv(
  providers: readonly SmsProviderName[],
  source: Record<string, unknown>,
): SmsEnvIssue[] {
  const issues: SmsEnvIssue[] = []
  for (const name of remoteProviders(providers)) {
    const input = pick(source, SMS_PROVIDER_VARIABLES[name])
    const parsed = SMS_PROVIDER_ENV_SCHEMAS[name].safeParse(input)
    if (parsed.success) continue
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? name)
      issues.push({
        variable,
        message:
          input[variable] === undefined
            ? `is required when SMS_PROVIDER includes ${name}`
            : issue.message,
      })
    }
  }
  return issues
}

/** The typed settings of the chosen providers; throws naming the variables when any is wrong. */
export function readSmsProviderSettings(
  providers: readonly SmsProviderName[],
  source: Record<string, unknown>,
): SmsProviderSettings {
  const issues = checkSmsProviderEnv(providers, source)
  const timeout = timeoutMs.safeParse(blankToUndefined(source.SMS_TIMEOUT_MS))
  if (!timeout.success) {
    issues.push({ variable: 'SMS_TIMEOUT_MS', message: 'must be a whole number from 100 to 60000' })
  }
  if (issues.length > 0 || !timeout.success) {
    const lines = issues.map((issue) => `${issue.variable}: ${issue.message}`)
    throw new Error(`Invalid SMS provider configuration: ${lines.join('; ')}`)
  }
  const settings: SmsProviderSettings = { timeoutMs: timeout.data }
  for (const name of remoteProviders(providers)) {
    const input = pick(source, SMS_PROVIDER_VARIABLES[name])
    switch (name) {
      case 'ronglian':
        settings.ronglian = ronglianEnvSchema.parse(input)
        break
      case 'aliyun':
        settings.aliyun = aliyunEnvSchema.parse(input)
        break
      case 'tencent':
        settings.tencent = tencentEnvSchema.parse(input)
        break
      case 'twilio':
        settings.twilio = twilioEnvSchema.parse(input)
        break
    }
  }
  return settings
}

function remoteProviders(providers: readonly SmsProviderName[]): RemoteProviderName[] {
  return [...new Set(providers)].filter((name): name is RemoteProviderName => name !== 'console')
}

/** An empty variable (`FOO=` in an env file) counts as unset. */
function pick(
  source: Record<string, unknown>,
  names: readonly string[],
): Record<string, string | undefined> {
  const picked: Record<string, string | undefined> = {}
  for (const name of names) {
    const value = blankToUndefined(source[name])
    picked[name] = typeof value === 'string' ? value : undefined
  }
  return picked
}

function blankToUndefined(value: unknown): unknown {
  return typeof value === 'string' && value.trim() === '' ? undefined : value
}
