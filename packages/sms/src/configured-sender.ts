import { createAliyunSender } from './aliyun-sender.ts'
import { createConsoleSender } from './console-sender.ts'
import { createFailoverSender } from './failover-sender.ts'
import { readSmsProviderSettings } from './provider-config.ts'
import type { SmsProviderName, SmsProviderSettings } from './provider-config.ts'
import { createRonglianSender } from './ronglian-sender.ts'
import type { SmsLogger, SmsSender } from './sender.ts'
import type { SmsMetrics } from './sms-metrics.ts'
import { createTencentSender } from './tencent-sender.ts'
import { createTwilioSender } from './twilio-sender.ts'

/**
 * The sender SMS_PROVIDER asks for, from the validated environment. A real provider, or a list,
 * goes behind the failover sender (which also logs each request's outcome); a lone `console`
 * logs by itself.
 */
export function createConfiguredSender(
  providers: readonly SmsProviderName[],
  source: Record<string, unknown>,
  options: { logger: SmsLogger; production: boolean; metrics?: SmsMetrics },
): SmsSender {
  const names: readonly SmsProviderName[] = providers.length > 0 ? providers : ['console']
  const settings = readSmsProviderSettings(names, source)
  const senders = names.map((name) => createProvider(name, settings, options))
  const [only] = senders
  if (senders.length === 1 && only?.name === 'console') return only
  return createFailoverSender({ senders, logger: options.logger, metrics: options.metrics })
}

function createProvider(
  name: SmsProviderName,
  settings: SmsProviderSettings,
  options: { logger: SmsLogger; production: boolean },
): SmsSender {
  const { timeoutMs } = settings
  switch (name) {
    case 'console':
      return createConsoleSender(options)
    case 'ronglian':
      return createRonglianSender({ ...required(settings.ronglian, name), timeoutMs })
    case 'aliyun':
      return createAliyunSender({ ...required(settings.aliyun, name), timeoutMs })
    case 'tencent':
      return createTencentSender({ ...required(settings.tencent, name), timeoutMs })
    case 'twilio':
      return createTwilioSender({ ...required(settings.twilio, name), timeoutMs })
  }
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`SMS provider ${name} has no settings`)
  return value
}
