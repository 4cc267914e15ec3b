import { maskMobile } from './log-fields.ts'
import type { SendContext, SmsCodeMessage, SmsLogger, SmsSender } from './sender.ts'

/**
 * The `console` provider: writes the message to the log instead of sending it. Outside production
 * the code is logged too, so a developer can sign up without a real provider; in production only
 * the masked mobile is, since a log must never hold a usable code.
 */
export function createConsoleSender(options: {
  logger: SmsLogger
  production: boolean
}): SmsSender {
  const { logger, production } = options
  return {
    name: 'console',
    sendCode(message: SmsCodeMessage, context: SendContext = {}): Promise<void> {
      const fields: Record<string, unknown> = {
        provider: 'console',
        mobile: maskMobile(message.mobile),
        ttlMinutes: message.ttlMinutes,
      }
      if (!production) fields.code = message.code
      const log = context.logger ?? logger
      log.info(fields, 'sms code (console provider, not sent)')
      return Promise.resolve()
    },
  }
}
