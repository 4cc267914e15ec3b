/** What the domain asks of any SMS provider: deliver one verification code to one mobile. */
export interface SmsSender {
  /** The provider's name, for logs. */
  readonly name: string
  /** Resolves once the provider accepted the message; rejects with SmsSendError otherwise. */
  sendCode(message: SmsCodeMessage, context?: SendContext): Promise<void>
}

/** About the request a message belongs to, apart from the message so no sender stores it. */
export interface SendContext {
  /** The request's logger (carrying its request id), used instead of the sender's own. */
  logger?: SmsLogger
}

export interface SmsCodeMessage {
  mobile: string
  code: string
  /** How long the code stays valid, in minutes (the original's template parameter). */
  ttlMinutes: number
}

/**
 * A provider refused or failed. `retryable` tells a failover chain whether the next provider may
 * be tried (timeout, 5xx, throttling) or whether the request is hopeless (bad number, template).
 * The message is for logs only and never reaches a client.
 */
export class SmsSendError extends Error {
  override readonly name = 'SmsSendError'
  readonly provider: string
  readonly retryable: boolean
  /** The provider's own status or error code, when it gave one (for logs and tests). */
  readonly code: string | undefined

  constructor(
    provider: string,
    message: string,
    options: { retryable: boolean; cause?: unknown; code?: string },
  ) {
    super(message, { cause: options.cause })
    this.provider = provider
    this.retryable = options.retryable
    this.code = options.code
  }
}

/** The logging the senders need; pino's Logger satisfies it. */
export interface SmsLogger {
  info(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
}
