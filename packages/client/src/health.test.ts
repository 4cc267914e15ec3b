import { describe, expect, it } from 'vitest'
import { getHealth } from './health.ts'
import type { FetchLike } from './client.ts'

/** A server stand-in answering every request with this status and body; records the URLs asked. */
function answering(status: number, body: string): { fetch: FetchLike; urls: string[] } {
  const urls: string[] = []
  const fetch: FetchLike = (input) => {
    urls.push(input instanceof Request ? input.url : input.toString())
    return Promise.resolve(new Response(body, { status }))
  }
  return { fetch, urls }
}

describe('getHealth', () => {
  it('200: ok, with the report', async () => {
    const report = { status: 'ok', postgres: 'ok', redis: 'ok', down: [] }
    const server = answering(200, JSON.stringify(report))
    expect(await getHealth({ url: 'http://server/', fetch: server.fetch })).toEqual({
      ok: true,
      httpStatus: 200,
      report,
    })
    expect(server.urls).toEqual(['http://server/healthz'])
  })

  it('503: not ok, and the report says what is down', async () => {
    const report = { status: 'down', postgres: 'down', redis: 'ok', down: ['postgres'] }
    const server = answering(503, JSON.stringify(report))
    expect(await getHealth({ url: 'http://server', fetch: server.fetch })).toEqual({
      ok: false,
      httpStatus: 503,
      report,
    })
  })

  it('503 while the server shuts down: draining, nothing checked', async () => {
    const report = { status: 'draining', down: [] }
    const server = answering(503, JSON.stringify(report))
    expect(await getHealth({ url: 'http://server', fetch: server.fetch })).toEqual({
      ok: false,
      httpStatus: 503,
      report,
    })
  })

  it('an answer that is not a health report throws, naming the status', async () => {
    const page = answering(404, '<!doctype html><title>Not found</title>')
    await expect(getHealth({ url: 'http://server', fetch: page.fetch })).rejects.toThrow(
      '404 from /healthz is not a health report',
    )
    const other = answering(200, '{"status":"fine"}')
    await expect(getHealth({ url: 'http://server', fetch: other.fetch })).rejects.toThrow(
      'not a health report',
    )
  })
})
