import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { RONGLIAN, RONGLIAN_ACCOUNT } from '@signup/sms/testing/example-credentials'
import { startFakeRonglian } from '@signup/sms/testing/fake-ronglian'
import type { FakeProvider } from '@signup/sms/testing/fake-server'

// docs/contract.md section 11: SIGTERM stops accepting, lets the requests in flight finish (at
// most SHUTDOWN_TIMEOUT_SECONDS), closes the stores and exits 0. Every wait below is for a
// condition, with a deadline far beyond what it needs; no test depends on how fast the machine is.
let stack: TestStack | undefined
let fake: FakeProvider | undefined
let counter = 0

afterEach(async () => {
  await stack?.stop()
  await fake?.close()
  stack = undefined
  fake = undefined
})

async function start(
  env: Record<string, string>,
): Promise<{ stack: TestStack; fake: FakeProvider }> {
  fake = await startFakeRonglian(RONGLIAN_ACCOUNT)
  stack = await startTestStack('http-shutdown', {
    SMS_PROVIDER: 'ronglian',
    ...RONGLIAN,
    RONGLIAN_BASE_URL: fake.url,
    ...env,
  })
  return { stack, fake }
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A send on its own connection; rejects if the connection is cut before the answer. */
async function sendOnOwnConnection(server: TestStack): Promise<Answer> {
  const id = randomUUID()
  await server.redis.set(`ImageCode_${id}`, 'Q7RT', 300)
  const mobile = `1340000${String(++counter).padStart(4, '0')}`
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/passport/sms_code', server.server.url),
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(JSON.stringify({ mobile, image_code: 'Q7RT', image_code_id: id }))
  })
}

/** Whether a new TCP connection to the server is refused. */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}

/**
 * A connection that has sent the start of `GET /healthz` but not the blank line that ends it:
 * open and busy (not idle) when the signal comes, as a load balancer's pooled connection may be.
 * `finish()` completes the request and answers its response.
 */
async function halfSentHealthCheck(port: number): Promise<{ finish(): Promise<string> }> {
  const socket: Socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let received = ''
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')))
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n')
  return {
    async finish() {
      socket.write('\r\n')
      await waitFor(() => /\r\n\r\n[\s\S]*\}/.test(received), 'the health check is answered')
      socket.destroy()
      return received
    },
  }
}

const exitOf = (server: TestStack): Promise<number | null> =>
  new Promise((resolve) => {
    const child = server.server.process
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })

describe('SIGTERM', () => {
  it('a send waiting on a slow provider still answers OK; new connections are refused; /healthz 503; exit 0', async () => {
    const { stack, fake } = await start({ SHUTDOWN_TIMEOUT_SECONDS: '60' })
    const { port } = stack.server
    fake.behaviour = { kind: 'held' }
    const answer = sendOnOwnConnection(stack)
    await waitFor(() => fake.requests.length === 1, 'the send reaches the provider')
    const health = await halfSentHealthCheck(port)
    expect(await refusesConnections(port)).toBe(false)

    const exited = exitOf(stack)
    stack.server.process.kill('SIGTERM')
    await waitFor(() => refusesConnections(port), 'new connections are refused')
    // The balancer's connection still gets its answer: 503, so it sends this instance nothing new.
    const healthAnswer = await health.finish()
    expect(healthAnswer).toMatch(/^HTTP\/1\.1 503 /)
    expect(healthAnswer.toLowerCase()).toContain('connection: close')
    expect(healthAnswer).toContain('"status":"draining"')

    fake.release()
    const sent = await answer
    expect(sent.status).toBe(200)
    expect(JSON.parse(sent.body)).toEqual({ errno: 0, errmsg: '发送成功' })
    expect(sent.headers.connection).toBe('close')
    expect(await exited).toBe(0)
    const output = stack.server.output()
    expect(output).toContain('"inFlight":1')
    expect(output).toContain('"cut":0,"msg":"stopped"')
  })

  it('past SHUTDOWN_TIMEOUT_SECONDS the request is cut and the exit is still prompt, and 0', async () => {
    const timeoutSeconds = 2
    // The provider would keep the send waiting for a minute; the shutdown does not wait that long.
    const { stack, fake } = await start({
      SHUTDOWN_TIMEOUT_SECONDS: String(timeoutSeconds),
      SMS_TIMEOUT_MS: '60000',
    })
    fake.behaviour = { kind: 'hang' }
    const answer = sendOnOwnConnection(stack).then(
      () => 'answered',
      () => 'cut',
    )
    await waitFor(() => fake.requests.length === 1, 'the send reaches the provider')
    const exited = exitOf(stack)
    const signalled = performance.now()
    stack.server.process.kill('SIGTERM')
    expect(await exited).toBe(0)
    const elapsedMs = performance.now() - signalled
    expect(await answer).toBe('cut')
    // It waited for the request (the timeout), and not for the provider: margins of many seconds.
    expect(elapsedMs).toBeGreaterThanOrEqual(timeoutSeconds * 1000 * 0.9)
    expect(elapsedMs).toBeLessThan(timeoutSeconds * 1000 + 20_000)
    expect(stack.server.output()).toContain('"cut":1')
  }, 60_000)

  it('a second signal stops a draining server at once, exit 1 (Ctrl-C twice)', async () => {
    const { stack, fake } = await start({ SHUTDOWN_TIMEOUT_SECONDS: '60' })
    fake.behaviour = { kind: 'held' }
    const answer = sendOnOwnConnection(stack).then(
      () => 'answered',
      () => 'cut',
    )
    await waitFor(() => fake.requests.length === 1, 'the send reaches the provider')
    const exited = exitOf(stack)
    stack.server.process.kill('SIGTERM')
    await waitFor(() => stack.server.output().includes('shutting down'), 'the drain has begun')
    stack.server.process.kill('SIGINT')
    // Long before the 60 s the drain would have waited.
    expect(await exited).toBe(1)
    expect(await answer).toBe('cut')
    expect(stack.server.output()).toContain('second signal: stopping now')
  }, 60_000)

  it('the same with WEB_CONCURRENCY=2: the worker holding the send finishes it, then all exit 0', async () => {
    const { stack, fake } = await start({ WEB_CONCURRENCY: '2', SHUTDOWN_TIMEOUT_SECONDS: '60' })
    const { port } = stack.server
    fake.behaviour = { kind: 'held' }
    const answer = sendOnOwnConnection(stack)
    await waitFor(() => fake.requests.length === 1, 'the send reaches the provider')
    const exited = exitOf(stack)
    stack.server.process.kill('SIGTERM')
    await waitFor(() => refusesConnections(port), 'new connections are refused')
    // The idle worker is gone already; the busy one waits for its send.
    await waitFor(
      () => (stack.server.output().match(/"msg":"stopped"/g) ?? []).length === 1,
      'the idle worker has stopped',
    )
    expect(stack.server.process.exitCode).toBeNull()
    fake.release()
    const sent = await answer
    expect(sent.status).toBe(200)
    expect(JSON.parse(sent.body)).toMatchObject({ errno: 0 })
    expect(await exited).toBe(0)
    expect(stack.server.output().match(/"msg":"stopped"/g)).toHaveLength(2)
  }, 60_000)
})
