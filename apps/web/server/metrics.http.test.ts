import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mobilePrefix, sendLimitKeys } from '@signup/auth/send-limiter'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { RONGLIAN, RONGLIAN_ACCOUNT } from '@signup/sms/testing/example-credentials'
import { startFakeRonglian } from '@signup/sms/testing/fake-ronglian'
import type { FakeProvider } from '@signup/sms/testing/fake-server'

// docs/contract.md section 11: /metrics on METRICS_PORT only, each series moving with its event,
// and one access-log line per request.
let stack: TestStack
let fake: FakeProvider
let metricsUrl: string
let counter = 0
let ipCounter = 0
/** Every mobile and client address the tests used: none may appear in a label. */
const mobiles: string[] = []
const addresses: string[] = []

const freshMobile = (range = '1350000'): string => {
  const mobile = `${range}${String(++counter).padStart(4, '0')}`
  mobiles.push(mobile)
  return mobile
}
const freshIp = (): string => {
  const ip = `198.51.100.${++ipCounter}`
  addresses.push(ip)
  return ip
}

beforeAll(async () => {
  fake = await startFakeRonglian(RONGLIAN_ACCOUNT)
  stack = await startTestStack('http-metrics', {
    SMS_PROVIDER: 'ronglian',
    ...RONGLIAN,
    RONGLIAN_BASE_URL: fake.url,
    METRICS_PORT: '0',
    TRUST_PROXY: '1',
    SMS_LIMIT_IP_HOUR: '2',
    CAPTCHA_LIMIT_IP_MINUTE: '1',
  })
  metricsUrl = stack.server.metricsUrl ?? ''
}, 120_000)

afterAll(async () => {
  await stack?.stop()
  await fake?.close()
})

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The exposition text, parsed: one sample per line that is not a comment. */
function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
      if (!match?.[1] || !match[3]) throw new Error(`not a sample: ${line}`)
      const labels: Record<string, string> = {}
      for (const label of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels[label[1] ?? ''] = label[2] ?? ''
      }
      return { name: match[1], labels, value: Number(match[3]) }
    })
}

async function scrape(): Promise<{
  text: string
  value(name: string, labels?: Record<string, string>): number
}> {
  const response = await fetch(metricsUrl)
  expect(response.status).toBe(200)
  const text = await response.text()
  const samples = parse(text)
  return {
    text,
    value(name, labels = {}) {
      const found = samples.filter(
        (sample) =>
          sample.name === name &&
          Object.keys(sample.labels).length === Object.keys(labels).length &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      )
      // A series that has not happened yet is absent, which counts as 0.
      if (found.length > 1)
        throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`)
      return found[0]?.value ?? 0
    },
  }
}

/**
 * A request whose answer is read to its end: the server records an answer's metrics once the
 * answer is finished, which can be after fetch resolves on its headers (Next streams its pages).
 */
async function answered(url: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, init)
  await response.arrayBuffer()
  return response
}

/** How much each series moved while `act` ran. */
async function moved(
  series: [string, Record<string, string>][],
  act: () => Promise<void>,
): Promise<number[]> {
  const before = await scrape()
  await act()
  const after = await scrape()
  return series.map(([name, labels]) => after.value(name, labels) - before.value(name, labels))
}

async function send(
  mobile: string,
  ip: string,
): Promise<{ errno: number; requestId: string | null }> {
  const id = randomUUID()
  await stack.redis.set(`ImageCode_${id}`, 'Q7RT', 300)
  const response = await fetch(`${stack.server.url}/passport/sms_code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ mobile, image_code: 'Q7RT', image_code_id: id }),
  })
  const body = (await response.json()) as { errno: number }
  return { errno: body.errno, requestId: response.headers.get('x-request-id') }
}

const sends = (outcome: string): [string, Record<string, string>] => [
  'signup_sms_sends_total',
  { purpose: 'register', outcome },
]
const refusals = (limit: string): [string, Record<string, string>] => [
  'signup_limit_refusals_total',
  { limit },
]
const providerCalls = (result: string): [string, Record<string, string>] => [
  'signup_sms_provider_request_duration_seconds_count',
  { provider: 'ronglian', result },
]
const requests = (
  route: string,
  method: string,
  status: string,
): [string, Record<string, string>] => [
  'signup_http_request_duration_seconds_count',
  { route, method, status },
]

describe('/metrics', () => {
  it('is served on METRICS_HOST:METRICS_PORT only, never on the public port', async () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    expect(new URL(metricsUrl).port).not.toBe(String(stack.server.port))
    for (const path of ['/metrics', '/metrics/', '/api/metrics']) {
      const response = await fetch(`${stack.server.url}${path}`)
      expect(response.status).toBe(404)
      expect(await response.text()).not.toContain('# TYPE')
    }
    const response = await fetch(metricsUrl)
    expect(response.headers.get('content-type')).toContain('text/plain')
    const text = await response.text()
    // The default process metrics, and every series of the contract from the start.
    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'signup_sms_sends_total',
      'signup_sms_provider_request_duration_seconds',
      'signup_limit_refusals_total',
      'signup_captcha_images_total',
      'signup_sign_ins_total',
      'signup_http_request_duration_seconds',
      'signup_store_errors_total',
      'signup_sms_global_hour_limit',
    ]) {
      expect(text).toContain(`# TYPE ${name} `)
    }
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404)
  })

  it('a send: sends OK, a provider call ok, the route by template and status', async () => {
    const mobile = freshMobile()
    const deltas = await moved(
      [
        sends('OK'),
        providerCalls('ok'),
        requests('/passport/sms_code', 'POST', '200'),
        ['signup_captcha_images_total', { outcome: 'OK' }],
      ],
      async () => {
        expect((await send(mobile, freshIp())).errno).toBe(0)
        await answered(`${stack.server.url}/passport/image_code?imageCodeId=${randomUUID()}`, {
          headers: { 'x-forwarded-for': freshIp() },
        })
      },
    )
    expect(deltas).toEqual([1, 1, 1, 1])
  })

  it('tRPC requests by procedure, and unknown paths under their route, not their own label', async () => {
    const deltas = await moved(
      [
        requests('/api/trpc/auth.me', 'GET', '200'),
        requests('/api/trpc/*', 'GET', '404'),
        requests('/passport/*', 'GET', '404'),
        requests('/*', 'GET', '404'),
      ],
      async () => {
        await answered(`${stack.server.url}/api/trpc/auth.me`)
        await answered(`${stack.server.url}/api/trpc/auth.nothing-${randomUUID()}`)
        await answered(`${stack.server.url}/passport/${freshMobile()}`)
        await answered(`${stack.server.url}/no-such-page-${randomUUID()}?mobile=${freshMobile()}`)
      },
    )
    expect(deltas).toEqual([1, 1, 1, 1])
  })

  it('a refusal by each limit, named by the limit', async () => {
    // The resend window and the per-IP limit by real sends; the others by their counters set at
    // their limits in Redis, as earlier sends would have left them.
    const again = freshMobile()
    const ip = freshIp()
    const hourly = freshMobile()
    const daily = freshMobile()
    const ranged = freshMobile('1390001')
    const captchaIp = freshIp()
    const deltas = await moved(
      [
        refusals('resend'),
        refusals('ip-hour'),
        refusals('mobile-hour'),
        refusals('mobile-day'),
        refusals('prefix-hour'),
        refusals('global-hour'),
        refusals('captcha-ip-minute'),
        sends('REQERR'),
        ['signup_captcha_images_total', { outcome: 'REQERR' }],
      ],
      async () => {
        expect((await send(again, ip)).errno).toBe(0)
        expect((await send(again, freshIp())).errno).toBe(4201) // resend
        expect((await send(freshMobile(), ip)).errno).toBe(0)
        expect((await send(freshMobile(), ip)).errno).toBe(4201) // a third from the one IP
        await stack.redis.set(sendLimitKeys.mobileHour(hourly), '5', 3600)
        expect((await send(hourly, freshIp())).errno).toBe(4201)
        await stack.redis.set(sendLimitKeys.mobileDay(daily), '10', 86_400)
        expect((await send(daily, freshIp())).errno).toBe(4201)
        await stack.redis.set(sendLimitKeys.prefixHour(mobilePrefix(ranged)), '30', 3600)
        expect((await send(ranged, freshIp())).errno).toBe(4201)
        await stack.redis.set(sendLimitKeys.globalHour(), '1000', 3600)
        expect((await send(freshMobile(), freshIp())).errno).toBe(4201)
        await stack.redis.del(sendLimitKeys.globalHour())
        for (const status of [200, 429]) {
          const image = await answered(
            `${stack.server.url}/passport/image_code?imageCodeId=${randomUUID()}`,
            { headers: { 'x-forwarded-for': captchaIp } },
          )
          expect(image.status).toBe(status)
        }
      },
    )
    expect(deltas).toEqual([1, 1, 1, 1, 1, 1, 1, 6, 1])
  })

  it('provider failures by result, each a THIRDERR send', async () => {
    const deltas = await moved(
      [
        providerCalls('retryable'),
        providerCalls('refused'),
        providerCalls('ok'),
        sends('THIRDERR'),
      ],
      async () => {
        fake.behaviour = { kind: 'server-error', status: 503 }
        expect((await send(freshMobile(), freshIp())).errno).toBe(4301)
        fake.behaviour = { kind: 'error', code: '160032' }
        expect((await send(freshMobile(), freshIp())).errno).toBe(4301)
        fake.behaviour = { kind: 'success' }
      },
    )
    expect(deltas).toEqual([1, 1, 0, 2])
  })

  it('a store failure: the store error by store and operation, and the send as DBERR', async () => {
    const mobile = freshMobile()
    // A counter the limiter's script cannot read fails that Redis call, as a broken store would.
    await stack.redis.set(sendLimitKeys.mobileHour(mobile), 'not a number', 3600)
    const deltas = await moved(
      [
        ['signup_store_errors_total', { store: 'redis', operation: 'limiter.take' }],
        sends('DBERR'),
      ],
      async () => {
        expect((await send(mobile, freshIp())).errno).toBe(4001)
      },
    )
    expect(deltas).toEqual([1, 1])
  })

  it('a sign-in: register by method and outcome', async () => {
    const mobile = freshMobile()
    expect((await send(mobile, freshIp())).errno).toBe(0)
    // Codes are kept as HMACs: the sent one is replaced by one the test knows.
    const code = await stack.seedSmsCode('register', mobile, '246810')
    const register = (smscode: string) =>
      stack.post(
        '/passport/register',
        JSON.stringify({ mobile, smscode, password: 'correct horse' }),
      )
    const deltas = await moved(
      [
        ['signup_sign_ins_total', { method: 'register', outcome: 'OK' }],
        ['signup_sign_ins_total', { method: 'register', outcome: 'NODATA' }],
      ],
      async () => {
        expect(((await (await register(code)).json()) as { errno: number }).errno).toBe(0)
        expect(((await (await register(code)).json()) as { errno: number }).errno).toBe(4002)
      },
    )
    expect(deltas).toEqual([1, 1])
  })

  it('no label holds a mobile, an IP address or an id', async () => {
    const { text } = await scrape()
    const values = parse(text).flatMap((sample) => Object.values(sample.labels))
    for (const value of values) {
      expect(value).not.toMatch(/1[3-9]\d{9}/) // a mobile
      expect(value).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b|[0-9a-f]*:[0-9a-f]*:/i) // an address
      expect(value).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/i) // a UUID: a captcha or request id
    }
    for (const used of [...mobiles, ...addresses]) expect(text).not.toContain(used)
    // Our labels are these names only; the default metrics add a few of their own.
    const ours = parse(text).filter((sample) => sample.name.startsWith('signup_'))
    const names = new Set(ours.flatMap((sample) => Object.keys(sample.labels)))
    expect([...names].sort()).toEqual([
      'le',
      'limit',
      'method',
      'operation',
      'outcome',
      'provider',
      'purpose',
      'result',
      'route',
      'status',
      'store',
    ])
    const routes = new Set(ours.map((sample) => sample.labels.route).filter(Boolean))
    for (const route of routes) expect(route).toMatch(/^\/[\w/._-]*\*?$/)
  })
})

describe('the access log', () => {
  it('one line per request: method, route template, status, duration, request id; no mobile, no query', async () => {
    const mobile = freshMobile()
    const { requestId } = await send(mobile, freshIp())
    const imageCodeId = `query-value-${randomUUID()}`
    await fetch(`${stack.server.url}/passport/image_code?imageCodeId=${imageCodeId}`, {
      headers: { 'x-forwarded-for': freshIp() },
    })
    // Production logs reach stdout within 250 ms; wait for the line rather than for the time.
    const deadline = Date.now() + 10_000
    let line: Record<string, unknown> | undefined
    while (!line && Date.now() < deadline) {
      line = stack.server
        .output()
        .split('\n')
        .filter((text) => text.includes('"msg":"request"'))
        .map((text) => JSON.parse(text) as Record<string, unknown>)
        .find((entry) => entry.reqId === requestId)
      if (!line) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(line).toMatchObject({
      level: 30,
      method: 'POST',
      route: '/passport/sms_code',
      status: 200,
      reqId: requestId,
      msg: 'request',
    })
    expect(line?.ms).toEqual(expect.any(Number))
    expect(Object.keys(line ?? {}).sort()).toEqual(
      ['level', 'method', 'ms', 'msg', 'reqId', 'route', 'status', 'time'].sort(),
    )
    await expect
      .poll(() => stack.server.output().includes('"route":"/passport/image_code"'), {
        timeout: 10_000,
      })
      .toBe(true)
    expect(stack.server.output()).not.toContain(mobile)
    expect(stack.server.output()).not.toContain(imageCodeId)
  })
})
