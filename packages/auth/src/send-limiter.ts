import type { RateLimiter, WindowCounter } from '@signup/kv/rate-limiter'
import { maskMobile } from '@signup/sms/log-fields'
import { clientIpGroup } from './client-ip-group.ts'
import type {
  AuthConfig,
  AuthLogger,
  CaptchaLimiter,
  SendLimitName,
  SendLimiter,
  SendSubject,
} from './ports.ts'
import { smsCodeKeys } from './stores.ts'

const HOUR = 3600
const DAY = 86_400
const MINUTE = 60
/** The number range of a mobile: its first seven digits (carrier block and area). */
export const mobilePrefix = (mobile: string): string => mobile.slice(0, 7)

/** Counter keys are namespaced, each with its own hash tag: the mobile, IP group, range or all. */
export const sendLimitKeys = {
  mobileHour: (mobile: string) => `signup:sms-mobile-hour:{${mobile}}`,
  mobileDay: (mobile: string) => `signup:sms-mobile-day:{${mobile}}`,
  ipHour: (ipGroup: string) => `signup:sms-ip-hour:{${ipGroup}}`,
  prefixHour: (prefix: string) => `signup:sms-prefix-hour:{${prefix}}`,
  globalHour: () => 'signup:sms-global-hour:{global}',
  captchaIpMinute: (ipGroup: string) => `signup:captcha-ip-minute:{${ipGroup}}`,
}

/** An alert at most this often per process, however many sends the paused budget refuses. */
const ALERT_INTERVAL_MS = 60_000

/**
 * The layered send limits (decision record 010) over a RateLimiter: per mobile (resend window,
 * hour, day) in one group, per IP group, per number range and the global budget in their own.
 * The resend window is the purpose's own; every other counter counts all purposes together
 * (decision record 015).
 */
export function createSendLimiter(
  limiter: RateLimiter,
  config: Pick<AuthConfig, 'limits' | 'smsResendSeconds'>,
  logger: AuthLogger,
  now: () => number = Date.now,
): SendLimiter {
  const { limits } = config
  let lastAlert = -Infinity

  const groupsOf = (subject: SendSubject): WindowCounter[][] => {
    const { mobile } = subject
    const groups: WindowCounter[][] = []
    if (!subject.testNumber) {
      groups.push([
        counter(
          'resend',
          smsCodeKeys(subject.purpose ?? 'register').resend(mobile),
          1,
          config.smsResendSeconds,
        ),
        counter('mobile-hour', sendLimitKeys.mobileHour(mobile), limits.mobileHour, HOUR),
        counter('mobile-day', sendLimitKeys.mobileDay(mobile), limits.mobileDay, DAY),
      ])
      const prefix = mobilePrefix(mobile)
      groups.push([
        counter('prefix-hour', sendLimitKeys.prefixHour(prefix), limits.prefixHour, HOUR),
      ])
    }
    const ip = clientIpGroup(subject.clientIp)
    if (ip !== null) {
      groups.push([counter('ip-hour', sendLimitKeys.ipHour(ip), limits.ipHour, HOUR)])
    }
    groups.push([counter('global-hour', sendLimitKeys.globalHour(), limits.globalHour, HOUR)])
    return groups
  }

  return {
    async take(subject, write) {
      const refusal = await limiter.take(groupsOf(subject), write)
      if (!refusal) return null
      const limit = refusal.name as SendLimitName
      if (limit === 'global-hour' && now() - lastAlert >= ALERT_INTERVAL_MS) {
        lastAlert = now()
        logger.error(
          {
            alert: 'sms-global-budget',
            limit: limits.globalHour,
            retryAfterMs: refusal.retryAfterMs,
            mobile: maskMobile(subject.mobile),
          },
          'global SMS budget reached: every send is paused until the hour ends',
        )
      }
      return { limit, retryAfter: seconds(refusal.retryAfterMs) }
    },
    giveBack: (subject) => limiter.giveBack(groupsOf(subject)),
  }
}

/** Captcha images per client IP group per minute; a client with no known address is not counted. */
export function createCaptchaLimiter(
  limiter: RateLimiter,
  config: Pick<AuthConfig, 'limits'>,
): CaptchaLimiter {
  const { captchaIpMinute } = config.limits
  return {
    async take(clientIp) {
      const ip = clientIpGroup(clientIp)
      if (ip === null) return null
      const key = sendLimitKeys.captchaIpMinute(ip)
      const refusal = await limiter.take([
        [counter('captcha-ip-minute', key, captchaIpMinute, MINUTE)],
      ])
      return refusal ? { limit: refusal.name, retryAfter: seconds(refusal.retryAfterMs) } : null
    },
  }
}

export function counter(
  name: string,
  key: string,
  limit: number,
  windowSeconds: number,
): WindowCounter {
  return { name, key, limit, windowSeconds }
}

/** A window in its last milliseconds still asks for a whole second: never a Retry-After of 0. */
export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}
