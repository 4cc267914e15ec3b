import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { rawRequest } from './testing/raw-http.ts'

/**
 * Issue 14, item 4: requests whose target is not a path, and Host headers that are not a plain
 * host, are the client's mistake. Sent over raw sockets, since fetch sends neither.
 */

let stack: TestStack

beforeAll(async () => {
  stack = await startTestStack('http-raw')
}, 180_000)

afterAll(async () => {
  await stack?.stop()
})

/** Sends one request with its own request id; `lines` are what the server logged for it. */
async function send(requestLine: string, headers: string[] = ['Host: 127.0.0.1']) {
  const requestId = `raw-${randomUUID()}`
  const before = stack.server.output().length
  const answer = await rawRequest(
    stack.server.port,
    [requestLine, ...headers, `X-Request-Id: ${requestId}`, 'Connection: close', '', ''].join(
      '\r\n',
    ),
  )
  await stack.logsFlushed()
  const written = stack.server
    .output()
    .slice(before)
    .split('\n')
    .filter((line) => line !== '' && !line.includes('logs-flushed-'))
  return { answer, requestId, written }
}

/** Exactly one line was written for the request, a JSON one: no stack trace, nothing else. */
function expectOneJsonLine(written: string[], requestId: string, status: number): void {
  const notJson = written.filter((line) => {
    try {
      JSON.parse(line)
      return false
    } catch {
      return true
    }
  })
  expect(notJson).toEqual([])
  const lines = written.filter((line) => line.includes(requestId))
  expect(lines).toHaveLength(1)
  expect(JSON.parse(lines[0] ?? '')).toMatchObject({ reqId: requestId, status, msg: 'request' })
}

describe('a request target that is not a path', () => {
  it('OPTIONS * asks about the server: 200 with Allow and no content (RFC 9110 section 9.3.7)', async () => {
    const { answer, requestId, written } = await send('OPTIONS * HTTP/1.1')
    expect(answer.status).toBe(200)
    expect(answer.headers.allow).toBe('GET, HEAD, POST')
    expect(answer.headers['content-length']).toBe('0')
    expectOneJsonLine(written, requestId, 200)
  })

  it.each([
    'GET *x HTTP/1.1',
    'GET * HTTP/1.1',
    'OPTIONS *x HTTP/1.1',
    'POST * HTTP/1.1',
    'GET http://evil.example/ HTTP/1.1',
    'GET http://127.0.0.1/api/trpc/auth.me HTTP/1.1',
    'GET https://evil.example/passport/logout HTTP/1.1',
    'CONNECT evil.example:443 HTTP/1.1',
  ])('%s: 400 with errno 4103, and one JSON log line', async (requestLine) => {
    const { answer, requestId, written } = await send(requestLine)
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.body)).toEqual({ errno: 4103, errmsg: '参数不全' })
    expect(answer.headers.location).toBeUndefined()
    expectOneJsonLine(written, requestId, 400)
  })

  it.each([
    ['GET evil.example:443 HTTP/1.1', [], 400],
    ['GET x HTTP/1.1', [], 400],
    ['GET /a b HTTP/1.1', [], 400],
    ['BREW / HTTP/1.1', [], 400],
    ['GET / HTTP/1.1', [`X-Huge: ${'x'.repeat(20 * 1024)}`], 431],
  ])(
    "%s (refused by Node's parser): %j %i with errno 4103, and one JSON log line",
    async (requestLine, headers, status) => {
      const { answer, written } = await send(requestLine, ['Host: 127.0.0.1', ...headers])
      expect(answer.status).toBe(status)
      expect(JSON.parse(answer.body)).toEqual({ errno: 4103, errmsg: '参数不全' })
      // Refused before it was a request: no request id of the client's, one line all the same.
      const lines = written.map((line) => JSON.parse(line) as Record<string, unknown>)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ msg: 'request', route: '*', status })
      expect(String(lines[0]?.refused)).toMatch(/^HPE_/)
    },
  )

  it('a path starting // or /\\ is a path here, not another host: it reaches no API route', async () => {
    for (const target of ['//evil.example/passport/logout', '/\\evil.example/passport/logout']) {
      const { answer } = await send(`GET ${target} HTTP/1.1`)
      // /passport/logout would sign out (200 with JSON); Next answers a path it does not have.
      expect(answer.headers['content-type'] ?? '').not.toContain('application/json')
      expect(answer.headers.location ?? '/').toMatch(/^\/(?![/\\])/)
    }
  })
})

describe('a Host header that is not a plain host and port', () => {
  it.each([
    ['user@evil.example'],
    ['user:pass@127.0.0.1'],
    ['evil.example/x'],
    ['evil.example?x'],
    ['evil.example#x'],
    ['[::1'],
    ['[nonsense]:80'],
    ['127.0.0.1:99999'],
    ['127.0.0.1:port'],
    [''],
  ])('Host %j: 400 on every route, in its surface shape, with one JSON log line', async (host) => {
    for (const path of ['/api/trpc/auth.me', '/passport/logout', '/healthz', '/']) {
      const { answer, requestId, written } = await send(`GET ${path} HTTP/1.1`, [`Host: ${host}`])
      expect({ path, status: answer.status }).toEqual({ path, status: 400 })
      const body = JSON.parse(answer.body) as {
        errno?: number
        error?: { data: { errno: number } }
      }
      expect(path.startsWith('/api/trpc/') ? body.error?.data.errno : body.errno).toBe(4103)
      expectOneJsonLine(written, requestId, 400)
    }
  })

  it('two Host lines: 400 (RFC 9112 section 3.2)', async () => {
    const { answer } = await send('GET /healthz HTTP/1.1', [
      'Host: 127.0.0.1',
      'Host: evil.example',
    ])
    expect(answer.status).toBe(400)
  })

  it.each(['example.com', 'example.com:8080', 'my_service:3000', '[::1]:3000', '127.0.0.1'])(
    'Host %j is served',
    async (host) => {
      const { answer } = await send('GET /healthz HTTP/1.1', [`Host: ${host}`])
      expect(answer.status).toBe(200)
    },
  )

  it('an HTTP/1.0 request without Host is served', async () => {
    const { answer } = await send('GET /healthz HTTP/1.0', [])
    expect(answer.status).toBe(200)
  })
})

describe('Upgrade requests', () => {
  it('are answered as plain requests, after a page was served too (production has no WebSocket)', async () => {
    // Next adds its upgrade handling on the first page request: serve one first.
    expect((await send('GET / HTTP/1.1')).answer.status).toBe(200)
    for (const upgrade of ['websocket', 'h2c']) {
      const answer = await rawRequest(
        stack.server.port,
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: ${upgrade}\r\nConnection: Upgrade\r\n\r\n`,
      )
      expect({ upgrade, status: answer.status }).toEqual({ upgrade, status: 200 })
    }
  })
})
