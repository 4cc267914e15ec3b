import { SmsSendError } from '../sender.ts'
import type { SmsCodeMessage, SmsSender } from '../sender.ts'

/**
 * A sender for tests: keeps every message instead of sending it, and can be told to fail the
 * next sends so the compensation paths can be exercised.
 */
export interface RecordingSender extends SmsSender {
  readonly sent: SmsCodeMessage[]
  failNext(count?: number, options?: { retryable?: boolean }): void
}

export function createRecordingSender(name = 'recording'): RecordingSender {
  const sent: SmsCodeMessage[] = []
  let failures = 0
  let retryable = true
  return {
    name,
    sent,
    failNext(count = 1, options = {}) {
      failures = count
      retryable = options.retryable ?? true
    },
    sendCode(message) {
      if (failures > 0) {
        failures--
        return Promise.reject(new SmsSendError(name, 'scripted failure', { retryable }))
      }
      sent.push(message)
      return Promise.resolve()
    },
  }
}
