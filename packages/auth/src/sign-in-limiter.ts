import type { RateLimiter, WindowCounter } from '@signup/kv/rate-limiter'
import { clientIpGroup } from './client-ip-group.ts'
import type {
  AuthConfig,
  CodeGuessLimiter,
  SignInLimitName,
  SignInLimiter,
  SignInSubject,
} from './ports.ts'
import { counter, seconds } from './send-limiter.ts'

const FIFTEEN_MINUTES = 900
const HOUR = 3600
const DAY = 86_400

/** Counter keys, namespaced, each with its hash tag: the mobile or the IP group. */
export const attemptLimitKeys = {
  loginMobile15Min: (mobile: string) => `signup:login-mobile-15min:{${mobile}}`,
  loginIpHour: (ipGroup: string) => `signup:login-ip-hour:{${ipGroup}}`,
  wrongCodeMobileDay: (mobile: string) => `signup:sms-wrong-day:{${mobile}}`,
}

/**
 * The limits on failed password sign-ins (decision record 014) over a RateLimiter: per mobile per
 * 15 minutes and per client IP group (IPv6 by /64) per hour, each in its own hash-tag group.
 */
export function createSignInLimiter(
  limiter: RateLimiter,
  config: Pick<AuthConfig, 'attemptLimits'>,
): SignInLimiter {
  const { loginMobile15Min, loginIpHour } = config.attemptLimits
  const mobileCounter = (mobile: string) =>
    counter(
      'login-mobile-15min',
      attemptLimitKeys.loginMobile15Min(mobile),
      loginMobile15Min,
      FIFTEEN_MINUTES,
    )
  const groupsOf = (subject: SignInSubject): WindowCounter[][] => {
    const groups = [[mobileCounter(subject.mobile)]]
    const ip = clientIpGroup(subject.clientIp)
    if (ip !== null) {
      groups.push([counter('login-ip-hour', attemptLimitKeys.loginIpHour(ip), loginIpHour, HOUR)])
    }
    return groups
  }
  return {
    async take(subject) {
      const refusal = await limiter.take(groupsOf(subject))
      if (!refusal) return null
      return {
        limit: refusal.name as SignInLimitName,
        retryAfter: seconds(refusal.retryAfterMs),
      }
    },
    giveBack: (subject) => limiter.giveBack(groupsOf(subject)),
    clearMobile: (mobile) => limiter.clear([[mobileCounter(mobile)]]),
  }
}

/** Wrong SMS codes per mobile per day, whatever code or purpose they were tried against. */
export function createCodeGuessLimiter(
  limiter: RateLimiter,
  config: Pick<AuthConfig, 'attemptLimits'>,
): CodeGuessLimiter {
  const groupsOf = (mobile: string): WindowCounter[][] => [
    [
      counter(
        'sms-wrong-day',
        attemptLimitKeys.wrongCodeMobileDay(mobile),
        config.attemptLimits.wrongCodeMobileDay,
        DAY,
      ),
    ],
  ]
  return {
    async take(mobile) {
      const refusal = await limiter.take(groupsOf(mobile))
      return refusal ? { limit: refusal.name, retryAfter: seconds(refusal.retryAfterMs) } : null
    },
    giveBack: (mobile) => limiter.giveBack(groupsOf(mobile)),
  }
}
