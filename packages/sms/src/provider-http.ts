import { redactProviderText } from './log-fields.ts'
import { SmsSendError } from './sender.ts'
import type { SmsCodeMessage } from './sender.ts'

/** What every HTTP provider needs besides its credentials. */
export interface HttpProviderOptions {
  /** Where the provider's API lives; overridable for tests and private gateways. */
  baseUrl?: string
  /** The whole exchange (connect, send, answer) must finish within this many ms. */
  timeoutMs?: number
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch
  /** Injected for tests (signatures carry the time); the system clock otherwise. */
  now?: () => Date
}

export const DEFAULT_TIMEOUT_MS = 5_000

export interface ProviderAnswer {
  status: number
  body: string
}

/**
 * One POST to a provider. A timeout or a network failure rejects with a retryable SmsSendError;
 * any HTTP answer, whatever its status, resolves so that the provider can classify it.
 */
export async function postToProvider(
  provider: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
  options: { timeoutMs: number; fetch: typeof fetch | undefined },
): Promise<ProviderAnswer> {
  const doFetch = options.fetch ?? fetch
  const signal = AbortSignal.timeout(options.timeoutMs)
  try {
    // A redirect from an SMS API means a wrong base URL; following it could replay the POST.
    const response = await doFetch(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      signal,
      redirect: 'manual',
    })
    return { status: response.status, body: await response.text() }
  } catch (error) {
    if (signal.aborted) {
      throw new SmsSendError(provider, `no answer within ${options.timeoutMs} ms`, {
        retryable: true,
        cause: error,
        code: 'timeout',
      })
    }
    throw new SmsSendError(provider, `request failed: ${networkReason(error)}`, {
      retryable: true,
      cause: error,
      code: 'network',
    })
  }
}

/** Parses a JSON object answer; anything else (HTML from a proxy, truncated text) gives undefined. */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

export function stringField(object: Record<string, unknown> | undefined, key: string): string {
  const value = object?.[key]
  return typeof value === 'string' || typeof value === 'number' ? String(value) : ''
}

/**
 * An answer that is not the provider's documented shape. A 2xx one is final: the provider may
 * have accepted the message, so trying the next provider could deliver a second SMS.
 */
export function malformedAnswer(
  provider: string,
  answer: ProviderAnswer,
  message: SmsCodeMessage,
): SmsSendError {
  const snippet = redactProviderText(answer.body, message, 120)
  return new SmsSendError(provider, `HTTP ${answer.status}, unreadable answer: ${snippet}`, {
    retryable: answer.status >= 500 || answer.status === 429 || answer.status === 408,
    code: `http-${answer.status}`,
  })
}

/** The base URL without a trailing slash, so paths can be appended with one. */
export function trimBaseUrl(url: string): string {
  return url.replace(/\/+$/, '')
}

/** Mobiles here are normalised mainland numbers; E.164 providers get +86 in front. */
export function toE164(mobile: string): string {
  return mobile.startsWith('+') ? mobile : `+86${mobile}`
}

function networkReason(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined
  if (cause && typeof cause.code === 'string') return cause.code
  return error instanceof Error ? error.message : String(error)
}
