import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAliyunSender } from './aliyun-sender.ts'
import { createConsoleSender } from './console-sender.ts'
import { createFailoverSender } from './failover-sender.ts'
import { createRecordingSender } from './testing/recording-sender.ts'
import { SmsSendError } from './sender.ts'
import type { SmsSender } from './sender.ts'
import { createTencentSender } from './tencent-sender.ts'
import { startFakeAliyun } from './testing/fake-aliyun.ts'
import type { FakeProvider } from './testing/fake-server.ts'
import { startFakeTencent } from './testing/fake-tencent.ts'
import { failureOf, MESSAGE } from './testing/provider-contract.ts'

const ALIYUN = {
  accessKeyId: 'LTAI5tRqBv9xExampleKey01',
  accessKeySecret: 'Zx8wQ3rT6yU9iO2pA5sD8fG1hJ4kL7',
}
const TENCENT = {
  secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPxTESTEXAMPLE',
  secretKey: 'Gu5t9xGARNpq86cd98joQYCN3TESTKEY',
  sdkAppId: '1400006666',
}

function recordingLogger() {
  const lines: { level: 'info' | 'warn'; fields: Record<string, unknown>; message: string }[] = []
  return {
    lines,
    info: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: 'info', fields, message }),
    warn: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: 'warn', fields, message }),
  }
}

describe('failover across two fake providers (aliyun, then tencent)', () => {
  let aliyun: FakeProvider
  let tencent: FakeProvider
  let logger: ReturnType<typeof recordingLogger>
  let sender: SmsSender

  beforeAll(async () => {
    ;[aliyun, tencent] = await Promise.all([startFakeAliyun(ALIYUN), startFakeTencent(TENCENT)])
  })
  afterAll(() => Promise.all([aliyun.close(), tencent.close()]))
  beforeEach(() => {
    for (const fake of [aliyun, tencent]) {
      fake.requests.length = 0
      fake.problems.length = 0
      fake.behaviour = { kind: 'success' }
    }
    logger = recordingLogger()
    // Every answer of the fakes must come within this, a hang must outlast it: a second leaves
    // a slow, busy machine ample time for the first.
    const timeoutMs = 1_000
    sender = createFailoverSender({
      logger,
      senders: [
        createAliyunSender({
          ...ALIYUN,
          signName: '测试',
          templateCode: 'SMS_1',
          baseUrl: aliyun.url,
          timeoutMs,
        }),
        createTencentSender({
          ...TENCENT,
          signName: '测试',
          templateId: '1',
          region: 'ap-guangzhou',
          baseUrl: tencent.url,
          timeoutMs,
        }),
      ],
    })
  })

  it('is named after its providers, in order', () => {
    expect(sender.name).toBe('aliyun,tencent')
  })

  it('uses the first provider alone when it succeeds', async () => {
    await sender.sendCode(MESSAGE)
    expect(aliyun.requests).toHaveLength(1)
    expect(tencent.requests).toHaveLength(0)
    expect(logger.lines).toEqual([
      {
        level: 'info',
        message: 'sms sent',
        fields: expect.objectContaining({
          outcome: 'sent',
          provider: 'aliyun',
          attempts: 1,
          mobile: '138****5678',
          latencyMs: expect.any(Number) as number,
        }) as Record<string, unknown>,
      },
    ])
  })

  it('tries the next provider after a throttled answer, delivering once', async () => {
    aliyun.behaviour = { kind: 'error', code: 'isv.BUSINESS_LIMIT_CONTROL' }
    await sender.sendCode(MESSAGE)
    expect(aliyun.requests).toHaveLength(1)
    expect(tencent.requests).toHaveLength(1)
    expect(tencent.problems).toEqual([])
    const [warn, info] = logger.lines
    expect(warn).toMatchObject({
      level: 'warn',
      fields: { provider: 'aliyun', attempt: 1, retryable: true, mobile: '138****5678' },
    })
    expect(String(warn?.fields.error)).toContain('isv.BUSINESS_LIMIT_CONTROL')
    expect(info).toMatchObject({
      level: 'info',
      fields: { outcome: 'sent', provider: 'tencent', attempts: 2 },
    })
  })

  it('tries the next provider after a 5xx and after a hang past the timeout', async () => {
    aliyun.behaviour = { kind: 'server-error', status: 503 }
    await sender.sendCode(MESSAGE)
    aliyun.behaviour = { kind: 'hang' }
    await sender.sendCode(MESSAGE)
    expect(aliyun.requests).toHaveLength(2)
    expect(tencent.requests).toHaveLength(2)
  })

  it.each([
    ['a bad template', 'isv.SMS_TEMPLATE_ILLEGAL'],
    ['a bad number', 'isv.MOBILE_NUMBER_ILLEGAL'],
    ['no balance', 'isv.AMOUNT_NOT_ENOUGH'],
  ])('stops at a final failure (%s): the next provider is never asked', async (_, code) => {
    aliyun.behaviour = { kind: 'error', code }
    const error = await failureOf(sender.sendCode(MESSAGE))
    expect(error).toMatchObject({ provider: 'aliyun', retryable: false, code })
    expect(tencent.requests).toHaveLength(0)
    expect(logger.lines.at(-1)).toMatchObject({
      level: 'info',
      fields: { outcome: 'failed', provider: 'aliyun', attempts: 1 },
    })
  })

  it('stops after a malformed answer, since the first provider may have sent the SMS', async () => {
    aliyun.behaviour = { kind: 'malformed' }
    await failureOf(sender.sendCode(MESSAGE))
    expect(tencent.requests).toHaveLength(0)
  })

  it('fails with the last error when every provider fails retryably', async () => {
    aliyun.behaviour = { kind: 'error', code: 'Throttling.User' }
    tencent.behaviour = { kind: 'error', code: 'LimitExceeded.PhoneNumberThirtySecondLimit' }
    const error = await failureOf(sender.sendCode(MESSAGE))
    expect(error).toMatchObject({ provider: 'tencent', retryable: true })
    expect(logger.lines.map((line) => line.level)).toEqual(['warn', 'warn', 'info'])
    expect(logger.lines.at(-1)?.fields).toMatchObject({ outcome: 'failed', attempts: 2 })
  })

  it("never logs the full mobile or the code, even when a provider's text echoes them", async () => {
    const echo = `bad ${MESSAGE.mobile} / +86${MESSAGE.mobile} code ${MESSAGE.code}`
    aliyun.behaviour = { kind: 'error', code: 'isv.BUSINESS_LIMIT_CONTROL', message: echo }
    tencent.behaviour = { kind: 'error', code: 'InternalError.Timeout', message: echo }
    await failureOf(sender.sendCode(MESSAGE))
    const logged = JSON.stringify(logger.lines)
    expect(logged).toContain('138****5678')
    expect(logged).not.toContain(MESSAGE.mobile)
    expect(logged).not.toContain(MESSAGE.code)
  })
})

describe('failover with in-process senders', () => {
  it('treats an unexpected exception as final, masking its text', async () => {
    const logger = recordingLogger()
    const broken: SmsSender = {
      name: 'broken',
      sendCode: () => Promise.reject(new TypeError(`cannot read ${MESSAGE.mobile}`)),
    }
    const second = createRecordingSender('second')
    const error = await failureOf(
      createFailoverSender({ logger, senders: [broken, second] }).sendCode(MESSAGE),
    )
    expect(error).toMatchObject({ provider: 'broken', retryable: false })
    expect(error.message).not.toContain(MESSAGE.mobile)
    expect(second.sent).toHaveLength(0)
  })

  it('sends one message per request, in order, never in parallel', async () => {
    const logger = recordingLogger()
    const first = createRecordingSender('first')
    const second = createRecordingSender('second')
    first.failNext(1, { retryable: true })
    const failover = createFailoverSender({ logger, senders: [first, second] })
    await failover.sendCode(MESSAGE)
    await failover.sendCode(MESSAGE)
    expect(first.sent).toHaveLength(1)
    expect(second.sent).toHaveLength(1)
  })

  it('may end in the console provider (a chain that never fails in development)', async () => {
    const logger = recordingLogger()
    const first = createRecordingSender('first')
    first.failNext(1, { retryable: true })
    const failover = createFailoverSender({
      logger,
      senders: [first, createConsoleSender({ logger, production: true })],
    })
    await failover.sendCode(MESSAGE)
    expect(logger.lines.at(-1)?.fields).toMatchObject({ provider: 'console', attempts: 2 })
  })

  it('measures latency with the injected clock', async () => {
    const logger = recordingLogger()
    let now = 1_000
    const slow: SmsSender = {
      name: 'slow',
      sendCode: () => {
        now += 42
        return Promise.resolve()
      },
    }
    await createFailoverSender({ logger, senders: [slow], clock: () => now }).sendCode(MESSAGE)
    expect(logger.lines[0]?.fields.latencyMs).toBe(42)
  })

  it('counts every provider request by provider and result, with its duration', async () => {
    const calls: [string, string, number][] = []
    const metrics = {
      providerCall: (provider: string, result: string, seconds: number) =>
        calls.push([provider, result, seconds]),
    }
    let now = 0
    /** A sender whose every request takes `ms` on the test clock. */
    const taking = (ms: number, sender: SmsSender): SmsSender => ({
      name: sender.name,
      sendCode: (message) => {
        now += ms
        return sender.sendCode(message)
      },
    })
    const first = createRecordingSender('first')
    const second = createRecordingSender('second')
    const timedOut: SmsSender = {
      name: 'slow',
      sendCode: () =>
        Promise.reject(new SmsSendError('slow', 'no answer', { retryable: true, code: 'timeout' })),
    }
    const failover = createFailoverSender({
      logger: recordingLogger(),
      metrics,
      clock: () => now,
      senders: [taking(300, timedOut), taking(20, first), taking(40, second)],
    })
    await failover.sendCode(MESSAGE) // slow times out, first sends
    first.failNext(1, { retryable: true })
    await failover.sendCode(MESSAGE) // slow times out, first is throttled, second sends
    first.failNext(1, { retryable: false })
    await failureOf(failover.sendCode(MESSAGE)) // slow times out, first refuses: final
    expect(calls).toEqual([
      ['slow', 'timeout', 0.3],
      ['first', 'ok', 0.02],
      ['slow', 'timeout', 0.3],
      ['first', 'retryable', 0.02],
      ['second', 'ok', 0.04],
      ['slow', 'timeout', 0.3],
      ['first', 'refused', 0.02],
    ])
  })

  it('refuses an empty provider list', () => {
    expect(() => createFailoverSender({ logger: recordingLogger(), senders: [] })).toThrow()
  })
})
