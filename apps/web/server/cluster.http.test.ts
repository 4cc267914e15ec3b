import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshMobile } from '@signup/db/testing/mobiles'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'

// WEB_CONCURRENCY=2: a primary and two workers on one port, with real Redis and Postgres.
let stack: TestStack

/** The cluster's workers: the children of the primary that run the compiled server. */
function childPids(pid: number): number[] {
  let children: number[]
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
  } catch {
    return [] // pgrep exits 1 when there are none
  }
  return children.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('dist/main.mjs')
    } catch {
      return false // exited meanwhile
    }
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(100)
  }
}

/** One POST on its own connection, so the primary hands it to the next worker in turn. */
function postOnNewConnection(
  path: string,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, stack.server.url)
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', connection: 'close' },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function sendOnce(): Promise<{ status: number; text: string }> {
  const id = randomUUID()
  await stack.redis.set(`ImageCode_${id}`, 'Q7RT', 300)
  return postOnNewConnection(
    '/passport/sms_code',
    JSON.stringify({ mobile: freshMobile(), image_code: 'Q7RT', image_code_id: id }),
  )
}

beforeAll(async () => {
  stack = await startTestStack('http-cluster', { WEB_CONCURRENCY: '2', METRICS_PORT: '0' })
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

describe('WEB_CONCURRENCY=2', () => {
  it('writes one start line naming both workers, once both listen', () => {
    const lines = stack.server.output().match(/listening on http:\/\/localhost:\d+[^\n]*/g) ?? []
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('2 workers')
    expect(childPids(stack.server.process.pid ?? 0)).toHaveLength(2)
  })

  it('serves sends from both workers on the one port', async () => {
    for (let i = 0; i < 12; i++) {
      const answer = await sendOnce()
      expect(answer.status).toBe(200)
      expect(JSON.parse(answer.text)).toMatchObject({ errno: 0 })
    }
    // Production logs reach stdout within 250 ms here (waitFor allows far more); each line names
    // its worker.
    const workers = await waitFor(() => {
      const seen = new Set(
        [...stack.server.output().matchAll(/"worker":(\d+)[^\n]*console provider/g)].map(
          (match) => match[1],
        ),
      )
      return seen.size >= 2 ? seen : undefined
    })
    expect([...workers].sort()).toEqual(['1', '2'])
  })

  it('serves /metrics from the primary, summed over the workers', async () => {
    const url = stack.server.metricsUrl ?? ''
    expect(url).not.toBe('')
    const text = await (await fetch(url)).text()
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])
    // The 12 sends above, served by both workers, counted once each.
    expect(value('signup_sms_sends_total{purpose="register",outcome="OK"}')).toBe(12)
    // A setting every worker reports is that setting, not the sum of the two.
    expect(value('signup_sms_global_hour_limit')).toBe(1000)
    expect((await fetch(`${stack.server.url}/metrics`)).status).toBe(404)
  })

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const primary = stack.server.process.pid ?? 0
    const before = childPids(primary)
    const victim = before[0] ?? 0
    process.kill(victim, 'SIGKILL')
    // A connection handed to the victim in its last instant dies with it, as with any crash; once
    // the primary knows, the surviving worker answers while the replacement starts.
    await waitFor(() =>
      stack.server.output().includes('worker died; starting another') ? true : undefined,
    )
    const during = await sendOnce()
    expect(during.status).toBe(200)
    const after = await waitFor(() => {
      const pids = childPids(primary)
      return pids.length === 2 && !pids.includes(victim) ? pids : undefined
    })
    expect(after).toContain(before[1])
    // Once the new worker listens, both take connections again.
    await waitFor(() =>
      stack.server.output().includes('replacement worker listening') ? true : undefined,
    )
    for (let i = 0; i < 6; i++) expect((await sendOnce()).status).toBe(200)
  }, 60_000)

  it('stops every worker and exits 0 on SIGTERM', async () => {
    const primary = stack.server.process.pid ?? 0
    const workers = childPids(primary)
    expect(workers).toHaveLength(2)
    const exited = new Promise<number | null>((resolve) =>
      stack.server.process.once('exit', (code) => resolve(code)),
    )
    stack.server.process.kill('SIGTERM')
    expect(await exited).toBe(0)
    for (const pid of workers) {
      expect(() => process.kill(pid, 0)).toThrow() // gone
    }
  })
})
