import { DomainError } from '@signup/trpc/ret'
import type { AuthMetrics, Outcome } from './ports.ts'

/** Counts nothing: the default, and what a server without METRICS_PORT uses. */
export const noAuthMetrics: AuthMetrics = {
  smsSend: () => undefined,
  limitRefusal: () => undefined,
  captchaImage: () => undefined,
  signIn: () => undefined,
}

/** The errno name a core call ended with: its refusal's, or SERVERERR for anything unexpected. */
export function outcomeOf(error: unknown): Outcome {
  return error instanceof DomainError ? error.ret : 'SERVERERR'
}

/** Runs a core call and counts how it ended, once, whichever way that is. */
export async function countOutcome<T>(
  count: (outcome: Outcome) => void,
  call: () => Promise<T>,
): Promise<T> {
  let result: T
  try {
    result = await call()
  } catch (error) {
    count(outcomeOf(error))
    throw error
  }
  count('OK')
  return result
}
