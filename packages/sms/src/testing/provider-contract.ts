import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_TIMEOUT_MS } from '../provider-http.ts'
import type { HttpProviderOptions } from '../provider-http.ts'
import { SmsSendError } from '../sender.ts'
import type { SmsCodeMessage, SmsSender } from '../sender.ts'
import type { FakeProvider } from './fake-server.ts'

export const MESSAGE: SmsCodeMessage = { mobile: '13812345678', code: '012345', ttlMinutes: 5 }

export interface ProviderContract {
  provider: string
  start(): Promise<FakeProvider>
  /** The sender under test, pointed at the fake; `secret` replaces the secret credential. */
  create(fake: FakeProvider, options?: HttpProviderOptions & { secret?: string }): SmsSender
  /** Codes another provider may succeed after (throttling, the provider's own errors). */
  retryableCodes: string[]
  /** Codes that stop the request: a bad template, a bad number, no balance. */
  finalCodes: { badTemplate: string; badNumber: string; noBalance: string }
}

/** The rejection of a send, which must be an SmsSendError. */
export async function failureOf(promise: Promise<unknown>): Promise<SmsSendError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(SmsSendError)
    return error as SmsSendError
  }
  throw new Error('expected the send to fail')
}

/**
 * The behaviour every HTTP provider shares, run against its fake: success, each class of
 * failure, a 5xx, a hang past the timeout, a malformed answer, wrong credentials, and masking.
 */
export function describeProviderContract(contract: ProviderContract): void {
  describe(`${contract.provider} sender against its fake provider`, () => {
    let fake: FakeProvider
    beforeAll(async () => {
      fake = await contract.start()
    })
    afterAll(() => fake.close())
    beforeEach(() => {
      fake.requests.length = 0
      fake.problems.length = 0
      fake.behaviour = { kind: 'success' }
    })

    it('sends one request that passes the provider checks and resolves', async () => {
      await contract.create(fake).sendCode(MESSAGE)
      expect(fake.problems).toEqual([])
      expect(fake.requests).toHaveLength(1)
    })

    it.each(contract.retryableCodes)('%s is a retryable failure', async (code) => {
      fake.behaviour = { kind: 'error', code }
      const error = await failureOf(contract.create(fake).sendCode(MESSAGE))
      expect(error).toMatchObject({ provider: contract.provider, retryable: true, code })
      expect(fake.problems).toEqual([])
      expect(fake.requests).toHaveLength(1)
    })

    it.each(Object.entries(contract.finalCodes))('%s (%s) is a final failure', async (_, code) => {
      fake.behaviour = { kind: 'error', code }
      const error = await failureOf(contract.create(fake).sendCode(MESSAGE))
      expect(error).toMatchObject({ provider: contract.provider, retryable: false, code })
      expect(fake.requests).toHaveLength(1)
    })

    it.each([500, 502, 503])(
      'HTTP %i is retryable, and is not retried by the sender',
      async (status) => {
        fake.behaviour = { kind: 'server-error', status }
        const error = await failureOf(contract.create(fake).sendCode(MESSAGE))
        expect(error.retryable).toBe(true)
        expect(error.message).toContain(String(status))
        expect(fake.requests).toHaveLength(1)
      },
    )

    it('a provider that hangs past the timeout is a retryable failure, on time', async () => {
      fake.behaviour = { kind: 'hang' }
      const started = performance.now()
      const error = await failureOf(contract.create(fake, { timeoutMs: 300 }).sendCode(MESSAGE))
      const elapsed = performance.now() - started
      expect(error).toMatchObject({ retryable: true, code: 'timeout' })
      expect(error.message).toContain('300 ms')
      expect(elapsed).toBeGreaterThanOrEqual(250)
      // The fake never answers: the configured 300 ms ended the request, once (no retry), well
      // before the default would have, however slow the machine.
      expect(elapsed).toBeLessThan(DEFAULT_TIMEOUT_MS)
      expect(fake.requests).toHaveLength(1)
    })

    it('a malformed 200 answer is final (the provider may have taken the message)', async () => {
      fake.behaviour = { kind: 'malformed' }
      const error = await failureOf(contract.create(fake).sendCode(MESSAGE))
      expect(error).toMatchObject({ retryable: false, code: 'http-200' })
      expect(error.message).toContain('unreadable')
    })

    it('wrong credentials are refused by the provider checks, as a final failure', async () => {
      const error = await failureOf(
        contract.create(fake, { secret: 'f'.repeat(32) }).sendCode(MESSAGE),
      )
      expect(error.retryable).toBe(false)
      expect(fake.problems.join('\n')).toMatch(/sig|signature|auth/i)
    })

    it('an unreachable provider is a retryable network failure', async () => {
      const closed = await contract.start()
      await closed.close()
      const error = await failureOf(contract.create(closed).sendCode(MESSAGE))
      expect(error).toMatchObject({ retryable: true, code: 'network' })
    })

    it("masks the mobile and removes the code from the provider's own text", async () => {
      const echo = `rejected ${MESSAGE.mobile} (+86${MESSAGE.mobile}) with params ${MESSAGE.code}`
      fake.behaviour = { kind: 'error', code: contract.finalCodes.badNumber, message: echo }
      const error = await failureOf(contract.create(fake).sendCode(MESSAGE))
      expect(error.message).toContain('138****5678')
      expect(error.message).not.toContain(MESSAGE.mobile)
      expect(error.message).not.toContain(MESSAGE.code)
    })
  })
}
