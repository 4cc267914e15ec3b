import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'

// docs/contract.md section 11: /livez while the process serves, /healthz naming what hangs.
let server: RunningServer
const stores: { server: Server; sockets: Set<Socket> }[] = []

/**
 * Takes the complete commands off the front of what a client sent (RESP arrays of bulk strings,
 * as ioredis writes them): their names, and what is left for the next chunk.
 */
function takeCommands(buffer: string): { names: string[]; rest: string } {
  const names: string[] = []
  const command = /^\*(\d+)\r\n((?:\$\d+\r\n[^\r]*\r\n)*)/
  let rest = buffer
  for (;;) {
    const match = command.exec(rest)
    const parts = [...(match?.[2] ?? '').matchAll(/\$\d+\r\n([^\r]*)\r\n/g)]
    if (!match || parts.length < Number(match[1])) return { names, rest }
    names.push((parts[0]?.[1] ?? '').toUpperCase())
    rest = rest.slice(match[0].length)
  }
}

/**
 * A store that hangs: accepts connections and never answers. As `redis`, it first answers the
 * handshake (CLIENT SETINFO, and INFO: ioredis's ready check), then nothing: a Redis that stopped
 * answering once connected, so the ping is sent and waits.
 */
async function startHungStore(kind: 'postgres' | 'redis'): Promise<number> {
  const sockets = new Set<Socket>()
  const hung = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
    if (kind !== 'redis') return
    let hanging = false
    let buffer = ''
    socket.on('data', (chunk) => {
      const taken = takeCommands(buffer + chunk.toString('latin1'))
      buffer = taken.rest
      for (const name of taken.names) {
        if (hanging) return
        if (name === 'CLIENT') socket.write('+OK\r\n')
        else if (name === 'INFO') {
          const info = '# Server\r\nredis_version:7.0.0\r\nloading:0\r\n'
          socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`)
        } else hanging = true
      }
    })
  })
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
  stores.push({ server: hung, sockets })
  return (hung.address() as AddressInfo).port
}

beforeAll(async () => {
  const [postgresPort, redisPort] = await Promise.all([
    startHungStore('postgres'),
    startHungStore('redis'),
  ])
  server = await startServer({
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${postgresPort}/hung`,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    SMS_PROVIDER: 'console',
    ACCESS_LOG: '0',
  })
}, 120_000)

afterAll(async () => {
  await server?.stop()
  for (const store of stores) {
    for (const socket of store.sockets) socket.destroy()
    await new Promise((resolve) => store.server.close(resolve))
  }
})

describe('with both stores hanging', () => {
  it('GET /livez: 200, the process serves', async () => {
    const response = await fetch(`${server.url}/livez`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect((await fetch(`${server.url}/livez`, { method: 'HEAD' })).status).toBe(200)
  })

  it('GET /healthz: 503 naming both as timed out, cut at the deadline rather than waited for', async () => {
    // pg alone would wait 2 s to connect and then say `down`; `timeout` is the health check's
    // own deadline (packages/api/src/health.ts, under a second; its unit test checks the time).
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${server.url}/healthz`)
      expect(response.status).toBe(503)
      expect(await response.json()).toEqual({
        status: 'down',
        postgres: 'timeout',
        redis: 'timeout',
        down: ['postgres', 'redis'],
      })
    }
  })

  it('/livez answers while a /healthz asked first still waits on the stores', async () => {
    const health = fetch(`${server.url}/healthz`).then((response) => `healthz ${response.status}`)
    const live = fetch(`${server.url}/livez`).then((response) => `livez ${response.status}`)
    expect(await Promise.race([health, live])).toBe('livez 200')
    expect(await health).toBe('healthz 503')
  })

  it('ACCESS_LOG=0 writes no line per request (checked once the log is flushed at exit)', async () => {
    await fetch(`${server.url}/livez`)
    await server.stop()
    expect(server.process.exitCode).toBe(0)
    expect(server.output()).toContain('"msg":"stopped"')
    expect(server.output()).not.toContain('"msg":"request"')
  })
})
