import { execFileSync } from 'node:child_process'
import { get } from 'node:http'
import type { Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '@signup/api/testing/test-infra'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { openIdle, rawRequest } from './testing/raw-http.ts'

/**
 * Issue 14, item 8: about 21,000 idle connections used up the server's 20,000 file descriptors,
 * and /healthz did not answer. The same in small, against the built server.
 */

const CAP = 50
/** What the capped server's process may open, set on it once it runs (the limit, small). */
const OPEN_FILES = 300
const IDLE = 400

let capped: TestStack
let impatient: TestStack
const sockets: Socket[] = []

beforeAll(async () => {
  ;[capped, impatient] = await Promise.all([
    startTestStack('http-connections-cap', { MAX_CONNECTIONS: String(CAP) }),
    startTestStack('http-connections-timeouts', {
      HEADERS_TIMEOUT_SECONDS: '1',
      REQUEST_TIMEOUT_SECONDS: '2',
      KEEP_ALIVE_TIMEOUT_SECONDS: '1',
    }),
  ])
}, 180_000)

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await Promise.all([capped?.stop(), impatient?.stop()])
})

/** GET on a connection of its own (no pooled one): what a health check or a new client does. */
function getOnNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on('error', reject)
    request.setTimeout(15_000, () => request.destroy(new Error(`no answer from ${url}`)))
  })
}

async function openMany(port: number, count: number): Promise<Socket[]> {
  const opened: Socket[] = []
  for (let i = 0; i < count; i++) opened.push(await openIdle(port))
  sockets.push(...opened)
  return opened
}

describe('the connection cap (MAX_CONNECTIONS)', () => {
  it('past the cap the longest-idle connections are closed, within the open-file limit, and /healthz answers a new connection', async () => {
    const pid = capped.server.process.pid
    expect(pid).toBeDefined()
    execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${OPEN_FILES}:${OPEN_FILES}`])

    const idle = await openMany(capped.server.port, IDLE)
    await waitUntil('all but the newest CAP idle connections are closed', () =>
      idle.slice(0, IDLE - CAP).every((socket) => socket.closed),
    )
    expect(idle.filter((socket) => !socket.closed).length).toBeLessThanOrEqual(CAP)

    expect(await getOnNewConnection(`${capped.server.url}/healthz`)).toBe(200)
    // The health check took the place of the longest idle one left; the newer ones stay.
    expect(idle.slice(-(CAP - 1)).every((socket) => !socket.closed)).toBe(true)

    await capped.logsFlushed()
    const reports = capped.server
      .output()
      .split('\n')
      .filter((line) => line.includes('connection cap reached'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(reports.length).toBeGreaterThanOrEqual(1)
    expect(reports[0]).toMatchObject({ level: 40, maxConnections: CAP })
  })
})

describe('timeouts (HEADERS_TIMEOUT_SECONDS, KEEP_ALIVE_TIMEOUT_SECONDS) set to 1 s', () => {
  const closedSoon = (socket: Socket, what: string) =>
    waitUntil(what, () => socket.closed, { timeoutMs: 15_000, intervalMs: 50 })

  it('a connection that never sends a request is closed', async () => {
    const [socket] = await openMany(impatient.server.port, 1)
    if (!socket) throw new Error('no socket')
    let answer = ''
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()))
    await closedSoon(socket, 'the idle connection is closed')
    expect(answer).toMatch(/^HTTP\/1\.1 408/)
  })

  it('headers sent a line at a time (slowloris) are cut off', async () => {
    const [socket] = await openMany(impatient.server.port, 1)
    if (!socket) throw new Error('no socket')
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    const trickle = setInterval(() => socket.write(`X-Slow-${Date.now()}: 1\r\n`), 200)
    try {
      await closedSoon(socket, 'the slow request is cut off')
    } finally {
      clearInterval(trickle)
    }
  })

  it('an idle keep-alive connection is closed after its answer', async () => {
    const [socket] = await openMany(impatient.server.port, 1)
    if (!socket) throw new Error('no socket')
    let answer = ''
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()))
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await waitUntil('the answer', () => answer.includes('"status":"ok"'))
    expect(answer).toMatch(/keep-alive/i)
    await closedSoon(socket, 'the keep-alive connection is closed')
  })

  it('requests on time are served', async () => {
    const answer = await rawRequest(
      impatient.server.port,
      'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    )
    expect(answer.status).toBe(200)
  })
})
