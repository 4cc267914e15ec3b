import { describeError, maskMobile, redactProviderText } from './log-fields.ts'
import { SmsSendError } from './sender.ts'
import type { SendContext, SmsCodeMessage, SmsLogger, SmsSender } from './sender.ts'
import { noSmsMetrics, providerCallResultOf } from './sms-metrics.ts'
import type { SmsMetrics } from './sms-metrics.ts'

export interface FailoverSenderConfig {
  /** The providers in failover order; the first is tried first. */
  senders: readonly SmsSender[]
  logger: SmsLogger
  /** Each provider request, by provider and result, with its duration; nothing by default. */
  metrics?: SmsMetrics
  /** Injected for tests; performance.now() otherwise. */
  clock?: () => number
}

/**
 * Tries the providers one after another, never two at once: the next only after a retryable
 * failure of the one before (timeout, 5xx, throttled). A final failure stops the chain, so one
 * request never delivers two SMS. Logs one outcome line per request and one warning per failed
 * attempt, with the mobile masked.
 */
export function createFailoverSender(config: FailoverSenderConfig): SmsSender {
  const { senders } = config
  const clock = config.clock ?? (() => performance.now())
  const metrics = config.metrics ?? noSmsMetrics
  if (senders.length === 0) throw new Error('failover needs at least one SMS provider')
  const name = senders.map((sender) => sender.name).join(',')

  return {
    name,
    async sendCode(message: SmsCodeMessage, context: SendContext = {}): Promise<void> {
      const logger = context.logger ?? config.logger
      const mobile = maskMobile(message.mobile)
      const started = clock()
      let attempts = 0
      let lastError: SmsSendError | undefined
      for (const sender of senders) {
        attempts++
        const attemptStarted = clock()
        try {
          await sender.sendCode(message, context)
          metrics.providerCall(sender.name, 'ok', (clock() - attemptStarted) / 1000)
          logger.info(
            {
              outcome: 'sent',
              provider: sender.name,
              attempts,
              latencyMs: Math.round(clock() - started),
              mobile,
            },
            'sms sent',
          )
          return
        } catch (error) {
          lastError = asSendError(sender.name, error, message)
          const seconds = (clock() - attemptStarted) / 1000
          metrics.providerCall(sender.name, providerCallResultOf(lastError), seconds)
          logger.warn(
            {
              provider: sender.name,
              attempt: attempts,
              retryable: lastError.retryable,
              providerCode: lastError.code,
              latencyMs: Math.round(seconds * 1000),
              mobile,
              error: lastError.message,
            },
            'sms provider failed',
          )
          if (!lastError.retryable) break
        }
      }
      logger.info(
        {
          outcome: 'failed',
          provider: lastError?.provider,
          attempts,
          latencyMs: Math.round(clock() - started),
          mobile,
        },
        'sms not sent',
      )
      throw lastError ?? new SmsSendError(name, 'no provider was tried', { retryable: false })
    },
  }
}

/**
 * Anything but an SmsSendError is a bug in a sender, not a provider answer: treated as final,
 * since nothing says the message was not handed over.
 */
function asSendError(provider: string, error: unknown, sms: SmsCodeMessage): SmsSendError {
  if (error instanceof SmsSendError) return error
  const text = describeError(error)
  return new SmsSendError(provider, `unexpected error: ${redactProviderText(text, sms)}`, {
    retryable: false,
    cause: error,
  })
}
