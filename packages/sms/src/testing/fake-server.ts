import { createServer } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request as a fake provider received it. */
export interface ReceivedRequest {
  method: string
  /** The path without the query. */
  path: string
  /** The query exactly as sent (without `?`), since signatures cover its encoding. */
  rawQuery: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  body: string
}

/**
 * What the fake answers to the next requests (once the request itself passed the provider's
 * checks; a bad signature or field gets the provider's own refusal whatever is set here).
 */
export type FakeBehaviour =
  | { kind: 'success' }
  /** The provider's documented error answer for this code; `message` overrides its text. */
  | { kind: 'error'; code: string; message?: string; status?: number }
  /** An HTTP 5xx with a proxy-style body. */
  | { kind: 'server-error'; status?: number }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Accept the request and answer it as a success only when the test calls `release()`. */
  | { kind: 'held' }
  /** A 200 whose body is not the provider's JSON. */
  | { kind: 'malformed' }

export interface FakeAnswer {
  status: number
  body: string
  contentType?: string
}

export interface FakeProvider {
  /** Base URL to give the sender (http://127.0.0.1:<port>). */
  readonly url: string
  readonly requests: ReceivedRequest[]
  /** What the fake found wrong in requests, checked as the provider would; empty when all passed. */
  readonly problems: string[]
  behaviour: FakeBehaviour
  /** Answers every request held so far (behaviour `held`) as a success. */
  release(): void
  close(): Promise<void>
}

/**
 * A node:http server on 127.0.0.1, port 0. `check` lists what the real provider would refuse in
 * a request; `answer` turns the behaviour (or the refusal) into the provider's answer.
 */
export async function startFakeProvider(handlers: {
  check(request: ReceivedRequest): string[]
  refuse(problems: string[], request: ReceivedRequest): FakeAnswer
  answer(behaviour: FakeBehaviour, request: ReceivedRequest): FakeAnswer
}): Promise<FakeProvider> {
  const requests: ReceivedRequest[] = []
  const problems: string[] = []
  const state: { behaviour: FakeBehaviour } = { behaviour: { kind: 'success' } }
  const held: (() => void)[] = []

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const rawUrl = req.url ?? '/'
      const queryAt = rawUrl.indexOf('?')
      const rawQuery = queryAt === -1 ? '' : rawUrl.slice(queryAt + 1)
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt),
        rawQuery,
        query: new URLSearchParams(rawQuery),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(request)
      const found = handlers.check(request)
      const respond = (answer: FakeAnswer): void => {
        res.writeHead(answer.status, {
          'content-type': answer.contentType ?? 'application/json;charset=utf-8',
        })
        res.end(answer.body)
      }
      let answer: FakeAnswer
      if (found.length > 0) {
        problems.push(...found)
        answer = handlers.refuse(found, request)
      } else {
        const behaviour = state.behaviour
        if (behaviour.kind === 'hang') return
        if (behaviour.kind === 'held') {
          held.push(() => respond(handlers.answer({ kind: 'success' }, request)))
          return
        }
        if (behaviour.kind === 'server-error') {
          const status = behaviour.status ?? 503
          const body = `<html><body>${status} Service Unavailable</body></html>`
          answer = { status, body, contentType: 'text/html' }
        } else if (behaviour.kind === 'malformed') {
          answer = { status: 200, body: '{"Code": "O', contentType: 'application/json' }
        } else {
          answer = handlers.answer(behaviour, request)
        }
      }
      respond(answer)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    problems,
    get behaviour() {
      return state.behaviour
    },
    set behaviour(value: FakeBehaviour) {
      state.behaviour = value
    },
    release() {
      for (const answer of held.splice(0)) answer()
    },
    close() {
      // Hanging requests hold their sockets open; close them so the server can stop.
      server.closeAllConnections()
      return new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}

/** A header's single value (node joins repeated ones; providers send each once). */
export function header(request: ReceivedRequest, name: string): string {
  const value = request.headers[name.toLowerCase()]
  return Array.isArray(value) ? value.join(',') : (value ?? '')
}

export const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string')
