import type { SmsSendError } from './sender.ts'

/**
 * How one provider request ended: accepted; no answer in time; no connection; an answer worth
 * trying the next provider for (5xx, throttled); or a final refusal (bad number, template, balance,
 * an unreadable 2xx).
 */
export type ProviderCallResult = 'ok' | 'timeout' | 'network' | 'retryable' | 'refused'

/**
 * What the senders count for /metrics (docs/contract.md section 11): each provider request by
 * provider name and result, with its duration. The composition root wires Prometheus behind it.
 */
export interface SmsMetrics {
  providerCall(provider: string, result: ProviderCallResult, seconds: number): void
}

/** Counts nothing: the default, and what a server without METRICS_PORT uses. */
export const noSmsMetrics: SmsMetrics = { providerCall: () => undefined }

export function providerCallResultOf(error: SmsSendError): ProviderCallResult {
  if (error.code === 'timeout' || error.code === 'network') return error.code
  return error.retryable ? 'retryable' : 'refused'
}
