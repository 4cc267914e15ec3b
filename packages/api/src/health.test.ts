import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { checkStores, HEALTH_CHECK_TIMEOUT_MS } from './health.ts'

const answers = () => Promise.resolve()
const fails = () => Promise.reject(new Error('connection refused'))
const hangs = () => new Promise<void>(() => undefined)

describe('checkStores', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('is ok when every store answers', async () => {
    expect(await checkStores({ postgres: answers, redis: answers })).toEqual({
      ok: true,
      checks: { postgres: 'ok', redis: 'ok' },
    })
  })

  it('names a store that fails as down, without waiting for the deadline', async () => {
    const report = checkStores({ postgres: answers, redis: fails })
    // No timer needs to fire: the answer is there before any time passes.
    await expect(report).resolves.toEqual({ ok: false, checks: { postgres: 'ok', redis: 'down' } })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('names a store that hangs as timeout once the deadline passes, within one second', async () => {
    let settled = false
    const report = checkStores({ postgres: hangs, redis: answers }).finally(() => {
      settled = true
    })
    await vi.advanceTimersByTimeAsync(HEALTH_CHECK_TIMEOUT_MS - 1)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await report).toEqual({ ok: false, checks: { postgres: 'timeout', redis: 'ok' } })
    expect(HEALTH_CHECK_TIMEOUT_MS).toBeLessThan(1000)
  })

  it('a ping that throws instead of rejecting is down too', async () => {
    const throws = (): Promise<void> => {
      throw new Error('not connected')
    }
    expect((await checkStores({ postgres: throws, redis: answers })).checks.postgres).toBe('down')
  })
})
