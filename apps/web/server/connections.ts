import { readFileSync } from 'node:fs'
import { createServer, ServerResponse } from 'node:http'
import type { IncomingMessage, RequestListener, Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Env } from '@signup/api/env'
import type { Logger } from '@signup/api/logger'

/**
 * Descriptors kept free of connections: the stores' pools, Next's and the static files' reads,
 * the log. Each connection may hold a second one while a static file is sent on it, so the cap
 * is at most half of what is left (connectionCap).
 */
const FD_HEADROOM = 256

/** A cap hit again within this long is reported in one line with the counts. */
const REPORT_EVERY_MS = 10_000

/** How often Node looks for requests past HEADERS_TIMEOUT_SECONDS (its default is 30 s). */
const TIMEOUT_CHECK_MS = 1000

export type ConnectionEnv = Pick<
  Env,
  | 'MAX_CONNECTIONS'
  | 'HEADERS_TIMEOUT_SECONDS'
  | 'REQUEST_TIMEOUT_SECONDS'
  | 'KEEP_ALIVE_TIMEOUT_SECONDS'
>

/**
 * The HTTP server with limits one client cannot exhaust (docs/decisions/018-connections-and-odd-requests.md):
 * its timeouts, and a connection cap below the process's open-file limit (limitConnections).
 */
export function createLimitedServer(env: ConnectionEnv, logger: Logger): Server {
  const server = createServer({
    headersTimeout: env.HEADERS_TIMEOUT_SECONDS * 1000,
    requestTimeout: env.REQUEST_TIMEOUT_SECONDS * 1000,
    keepAliveTimeout: env.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  })
  const fileLimit = openFileLimit()
  const { cap, lowered } = connectionCap(env.MAX_CONNECTIONS, fileLimit)
  if (lowered) {
    logger.warn(
      { maxConnections: env.MAX_CONNECTIONS, cap, openFileLimit: fileLimit },
      'MAX_CONNECTIONS is above what the open-file limit (ulimit -n) leaves; capped lower',
    )
  }
  limitConnections(server, cap, logger)
  return server
}

/**
 * CONNECT (a proxy's method: its target is `host:port`) goes to the request listener like any
 * other request, which refuses it, instead of Node closing the connection without a word.
 */
export function answerConnect(server: Server, listener: RequestListener): void {
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    const res = new ServerResponse(req)
    res.shouldKeepAlive = false
    res.assignSocket(socket)
    // Still attached, so the answer's `close` (the access log's cue) comes with the socket's.
    res.once('finish', () => socket.end(() => socket.destroy()))
    listener(req, res)
  })
}

/** MAX_CONNECTIONS, lowered when the open-file limit leaves room for fewer. */
export function connectionCap(
  requested: number,
  fileLimit: number | null,
): { cap: number; lowered: boolean } {
  if (fileLimit === null) return { cap: requested, lowered: false }
  const room = Math.max(1, Math.floor((fileLimit - FD_HEADROOM) / 2))
  return requested > room ? { cap: room, lowered: true } : { cap: requested, lowered: false }
}

/** The process's open-file limit (Linux, /proc/self/limits); null where unknown or unlimited. */
export function openFileLimit(): number | null {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return line?.[1] ? Number(line[1]) : null
  } catch {
    return null
  }
}

/**
 * At most `cap` open connections. A connection past it closes the longest-idle one (no request
 * in flight: a keep-alive connection between requests, or one that has not sent its headers
 * yet), so a flood of idle connections never locks out a new client such as a health check;
 * when every connection has a request in flight, the new one is closed at once instead. Both
 * are reported in one warning line at most every REPORT_EVERY_MS.
 */
export function limitConnections(server: Server, cap: number, logger: Logger): void {
  /** Connections without a request in flight, longest idle first. */
  const idle = new Set<Socket>()
  /** Requests in flight per connection (more than one when the client pipelines). */
  const busy = new Map<Socket, number>()
  const counts = { evicted: 0, refused: 0 }
  let reporting = false

  const report = (): void => {
    if (reporting) return
    reporting = true
    logger.warn(
      { maxConnections: cap, ...counts },
      'connection cap reached: longest-idle connections closed, or new ones refused when none was idle',
    )
    counts.evicted = 0
    counts.refused = 0
    setTimeout(() => {
      reporting = false
      if (counts.evicted + counts.refused > 0) report()
    }, REPORT_EVERY_MS).unref()
  }

  server.on('connection', (socket: Socket) => {
    if (idle.size + busy.size >= cap) {
      const [oldest] = idle
      if (oldest === undefined) {
        counts.refused++
        socket.destroy()
        report()
        return
      }
      idle.delete(oldest)
      oldest.destroy()
      counts.evicted++
      report()
    }
    idle.add(socket)
    socket.once('close', () => {
      idle.delete(socket)
      busy.delete(socket)
    })
  })

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { socket } = req
    idle.delete(socket)
    busy.set(socket, (busy.get(socket) ?? 0) + 1)
    res.once('close', () => {
      const left = (busy.get(socket) ?? 1) - 1
      if (left > 0) return void busy.set(socket, left)
      busy.delete(socket)
      // Re-added at the end: idle again from now.
      if (!socket.destroyed) idle.add(socket)
    })
  })
}
