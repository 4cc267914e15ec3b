import { createServer } from 'node:http'
import type { Server, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createCapturingLogger, waitUntil } from '@signup/api/testing/test-infra'
import { connectionCap, limitConnections } from './connections.ts'

let server: Server | undefined
const sockets: Socket[] = []

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  if (server) await new Promise((resolve) => server?.close(resolve))
  server = undefined
})

/** A server capped at `cap` whose answers wait until `release` is called. */
async function cappedServer(cap: number) {
  const held: ServerResponse[] = []
  const { logger, lines } = createCapturingLogger()
  server = createServer((_req, res) => held.push(res))
  limitConnections(server, cap, logger)
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    lines,
    held,
    release: () => held.splice(0).forEach((res) => res.end('done')),
    /** A connection that is open (the server accepted it) once this resolves. */
    open: async (request?: string): Promise<Socket & { received: string }> => {
      // `closed` is the stream's own: true once the server has closed it.
      const socket = Object.assign(connect(port, '127.0.0.1'), { received: '' })
      sockets.push(socket)
      socket.on('data', (chunk: Buffer) => (socket.received += chunk.toString()))
      socket.on('error', () => undefined)
      await new Promise((resolve) => socket.once('connect', resolve))
      if (request !== undefined) socket.write(request)
      return socket
    },
  }
}

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'

describe('limitConnections', () => {
  it('past the cap, a new connection closes the longest-idle one, and says so once', async () => {
    const capped = await cappedServer(3)
    const first = await capped.open()
    const second = await capped.open()
    const third = await capped.open()
    // Each one the server has accepted before the next: it sees them in this order.
    await waitUntil('the server accepts three', async () => (await count()) === 3)
    const fourth = await capped.open()
    await waitUntil('the longest idle is closed', () => first.closed)
    const fifth = await capped.open()
    await waitUntil('the next longest idle is closed', () => second.closed)
    expect([third.closed, fourth.closed, fifth.closed]).toEqual([false, false, false])
    const warnings = capped.lines.filter((line) => line.level === 40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ maxConnections: 3, evicted: 1, refused: 0 })
  })

  it('never closes a connection with a request in flight: a new one is refused instead', async () => {
    const capped = await cappedServer(2)
    const busy = [await capped.open(GET), await capped.open(GET)]
    await waitUntil('both requests arrive', () => capped.held.length === 2)
    const refused = await capped.open()
    await waitUntil('the new connection is closed', () => refused.closed)
    expect(busy.map((socket) => socket.closed)).toEqual([false, false])
    capped.release()
    await waitUntil('both are answered', () => busy.every((s) => s.received.includes('done')))
    // Answered, they are idle again: a new connection now closes the first of them.
    const next = await capped.open()
    await waitUntil('an idle one makes room', () => busy.some((socket) => socket.closed))
    expect(next.closed).toBe(false)
  })

  async function count(): Promise<number> {
    return new Promise((resolve, reject) =>
      server?.getConnections((error, n) => (error ? reject(error) : resolve(n))),
    )
  }
})

describe('connectionCap', () => {
  it('keeps MAX_CONNECTIONS below what the open-file limit leaves, two descriptors each', () => {
    expect(connectionCap(4096, null)).toEqual({ cap: 4096, lowered: false })
    expect(connectionCap(4096, 20_000)).toEqual({ cap: 4096, lowered: false })
    expect(connectionCap(4096, 1024)).toEqual({ cap: 384, lowered: true })
    expect(connectionCap(10, 100)).toEqual({ cap: 1, lowered: true })
  })
})
