import type { Server, ServerResponse } from 'node:http'

/** Whether the server is shutting down: /healthz answers 503 from the first moment it is. */
export interface ServerLifecycle {
  readonly draining: boolean
}

export interface RequestTracker extends ServerLifecycle {
  /** Requests received whose answer has not finished yet. */
  readonly inFlight: number
  /**
   * Stops accepting connections (new ones are refused at once) and lets the requests in flight
   * finish, for at most timeoutMs; then closes every connection left. Answers how many requests
   * were still in flight when the time ran out (0: all finished).
   */
  drain(timeoutMs: number): Promise<{ cut: number }>
}

/**
 * Tracks the server's requests so a shutdown can wait for them (docs/contract.md section 11).
 * Call it before adding the request listener: its own listener must see each request first.
 *
 * Node's server.close() stops the listener and closes idle keep-alive connections, but a busy
 * connection stays open after its answer and keeps taking requests. So while draining, every
 * answer not yet started says `Connection: close`, and once no request is left (or the time is
 * up) every remaining connection is closed.
 */
export function trackRequests(server: Server): RequestTracker {
  const open = new Set<ServerResponse>()
  let draining = false
  let settle: (() => void) | undefined

  server.on('request', (_req, res: ServerResponse) => {
    open.add(res)
    // A request that arrives on an open connection during the drain is answered, then that
    // connection closes.
    if (draining) res.setHeader('connection', 'close')
    res.once('close', () => {
      open.delete(res)
      if (draining && open.size === 0) settle?.()
    })
  })

  return {
    get draining() {
      return draining
    },
    get inFlight() {
      return open.size
    },
    drain(timeoutMs) {
      draining = true
      server.close()
      for (const res of open) if (!res.headersSent) res.setHeader('connection', 'close')
      return new Promise((resolve) => {
        const finish = (cut: number): void => {
          clearTimeout(timer)
          settle = undefined
          server.closeAllConnections()
          resolve({ cut })
        }
        const timer = setTimeout(() => finish(open.size), timeoutMs)
        settle = () => finish(0)
        if (open.size === 0) finish(0)
      })
    },
  }
}
