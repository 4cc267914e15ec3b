import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client'
import { noAuthMetrics } from '@signup/auth/metrics'
import type { AuthMetrics, LimitName, SendPurpose, SignInMethod } from '@signup/auth/ports'
import { noSmsMetrics } from '@signup/sms/sms-metrics'
import type { ProviderCallResult, SmsMetrics } from '@signup/sms/sms-metrics'
import type { RetName } from '@signup/trpc/ret'

/** The stores whose failed calls are counted, by their role (the dev stand-ins count as them). */
export type StoreName = 'postgres' | 'redis'

export interface HttpMetrics {
  /**
   * One request, once answered or abandoned: its route template (never the raw path), method,
   * status (or `aborted`) and how long it took.
   */
  request(route: string, method: string, status: string, seconds: number): void
}

export interface StoreMetrics {
  /** A call to a store that failed (rejected), by store and operation name. */
  error(store: StoreName, operation: string): void
}

/** Everything the server counts for /metrics (docs/contract.md section 11). */
export interface AppMetrics {
  auth: AuthMetrics
  sms: SmsMetrics
  http: HttpMetrics
  stores: StoreMetrics
  /** The process's series, for the metrics server; null when nothing is counted. */
  registry: Registry | null
}

/** Counts nothing: a server without METRICS_PORT pays nothing for metrics. */
export const noMetrics: AppMetrics = {
  auth: noAuthMetrics,
  sms: noSmsMetrics,
  http: { request: () => undefined },
  stores: { error: () => undefined },
  registry: null,
}

/** Each set in full (the compiler checks that against the union), so series exist at 0 from start. */
const PURPOSES = keysOf<SendPurpose>({ register: true, login: true, reset: true })
const SIGN_IN_METHODS = keysOf<SignInMethod>({
  register: true,
  password: true,
  'sms-code': true,
  reset: true,
})
const LIMITS = keysOf<LimitName>({
  resend: true,
  'mobile-hour': true,
  'mobile-day': true,
  'ip-hour': true,
  'prefix-hour': true,
  'global-hour': true,
  'login-mobile-15min': true,
  'login-ip-hour': true,
  'captcha-ip-minute': true,
})
const PROVIDER_RESULTS = keysOf<ProviderCallResult>({
  ok: true,
  timeout: true,
  network: true,
  retryable: true,
  refused: true,
})
/** What a send can end with: OK and every refusal sendSmsCode gives (SERVERERR: a fault). */
const SEND_OUTCOMES: readonly RetName[] = [
  'OK',
  'NODATA',
  'DATAERR',
  'DATAEXIST',
  'REQERR',
  'DBERR',
  'THIRDERR',
  'SERVERERR',
]
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** Seconds. HTTP: the send path answers in milliseconds, a page in tens of them. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Seconds. Providers: hundreds of milliseconds when well, SMS_TIMEOUT_MS (5 s) when not. */
const PROVIDER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30]

export interface MetricsOptions {
  /** The configured providers (SMS_PROVIDER), whose series start at 0. */
  providers: readonly string[]
  /** SMS_LIMIT_GLOBAL_HOUR, exported so an alert can compare the sends with it. */
  globalHourLimit: number
  /** Each store's operations, whose error series start at 0. */
  storeOperations: Readonly<Record<StoreName, readonly string[]>>
}

/**
 * prom-client behind the ports, on a registry of this process's own with the default process
 * metrics. Every label is a name from a fixed set: errno names, purposes, methods, limit names,
 * provider names, route templates, status codes, store and operation names.
 */
export function createMetrics(options: MetricsOptions): AppMetrics & { registry: Registry } {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]

  const sends = new Counter({
    name: 'signup_sms_sends_total',
    help: 'SMS code sends that passed input validation, by purpose and outcome (errno name)',
    labelNames: ['purpose', 'outcome'] as const,
    registers,
  })
  const limitRefusals = new Counter({
    name: 'signup_limit_refusals_total',
    help: 'Requests refused by a rate limit (REQERR), by the limit that refused them',
    labelNames: ['limit'] as const,
    registers,
  })
  const captchaImages = new Counter({
    name: 'signup_captcha_images_total',
    help: 'Captcha images asked for, by outcome (errno name)',
    labelNames: ['outcome'] as const,
    registers,
  })
  const signIns = new Counter({
    name: 'signup_sign_ins_total',
    help: 'Sign-ins (register included), by method and outcome (errno name)',
    labelNames: ['method', 'outcome'] as const,
    registers,
  })
  const providerCalls = new Histogram({
    name: 'signup_sms_provider_request_duration_seconds',
    help: 'SMS provider requests, by provider and result, and how long each took',
    labelNames: ['provider', 'result'] as const,
    buckets: PROVIDER_BUCKETS,
    registers,
  })
  const httpRequests = new Histogram({
    name: 'signup_http_request_duration_seconds',
    help: 'HTTP requests, by route template, method and status, and how long each took',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  })
  const storeErrors = new Counter({
    name: 'signup_store_errors_total',
    help: 'Failed calls to Postgres and Redis, by store and operation',
    labelNames: ['store', 'operation'] as const,
    registers,
  })
  const globalHourLimit = new Gauge({
    name: 'signup_sms_global_hour_limit',
    help: 'SMS_LIMIT_GLOBAL_HOUR: sends allowed per hour for the whole service',
    // The same setting in every worker: aggregated, it is that setting, not their sum.
    aggregator: 'max',
    registers,
  })
  globalHourLimit.set(options.globalHourLimit)

  for (const purpose of PURPOSES) {
    for (const outcome of SEND_OUTCOMES) sends.inc({ purpose, outcome }, 0)
  }
  for (const limit of LIMITS) limitRefusals.inc({ limit }, 0)
  for (const outcome of ['OK', 'REQERR', 'DBERR'] as const) captchaImages.inc({ outcome }, 0)
  for (const method of SIGN_IN_METHODS) {
    for (const outcome of ['OK', 'DBERR'] as const) signIns.inc({ method, outcome }, 0)
  }
  const providers = new Set(options.providers)
  for (const provider of providers) {
    for (const result of PROVIDER_RESULTS) providerCalls.zero({ provider, result })
  }
  for (const [store, operations] of Object.entries(options.storeOperations)) {
    for (const operation of operations) storeErrors.inc({ store, operation }, 0)
  }

  return {
    registry,
    auth: {
      smsSend: (purpose, outcome) => sends.inc({ purpose, outcome }),
      limitRefusal: (limit) => limitRefusals.inc({ limit }),
      captchaImage: (outcome) => captchaImages.inc({ outcome }),
      signIn: (method, outcome) => signIns.inc({ method, outcome }),
    },
    sms: {
      providerCall: (provider, result, seconds) =>
        providerCalls.observe(
          { provider: providers.has(provider) ? provider : 'other', result },
          seconds,
        ),
    },
    http: {
      request: (route, method, status, seconds) =>
        httpRequests.observe(
          { route, method: HTTP_METHODS.has(method) ? method : 'other', status },
          seconds,
        ),
    },
    stores: { error: (store, operation) => storeErrors.inc({ store, operation }) },
  }
}

/** What the metrics server answers: the text format and its content type. */
export interface MetricsSource {
  contentType: string
  metrics(): Promise<string>
}

/**
 * In a WEB_CONCURRENCY worker: answers the primary's requests for this process's series, which
 * the primary sums over the workers (prom-client's AggregatorRegistry) and serves alone.
 */
export function shareWithClusterPrimary(registry: Registry): void {
  // Constructing one installs the worker's IPC listener.
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([registry])
}

/** In the WEB_CONCURRENCY primary: every worker's series, summed (gauges by their aggregator). */
export function clusterMetricsSource(): MetricsSource {
  const aggregator = new AggregatorRegistry()
  return { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() }
}

function keysOf<Name extends string>(all: Record<Name, true>): Name[] {
  return Object.keys(all) as Name[]
}
