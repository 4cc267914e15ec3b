import { rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { freePort, pollUntil, serverTempDir, spawnServer } from '@signup/db/testing/server-process'

/** Debian's haproxy (`apt-get install haproxy`; .ci/run installs it when missing). */
export const HAPROXY = process.env.HAPROXY_PATH ?? '/usr/sbin/haproxy'

export interface LoadBalancer {
  /** http://127.0.0.1:<port> of the balancer. */
  url: string
  /** The instance names in the `x-served-by` header of each answer, by the order given. */
  instances: string[]
  /** haproxy's process id (it runs in the foreground, one process). */
  pid: number
  stop(): Promise<void>
}

/**
 * Starts haproxy in front of `backends` (http://host:port each), as a child process with its
 * config in a temp dir: HTTP mode, round-robin per request, `option forwardfor` (it appends the
 * client's address to X-Forwarded-For, which TRUST_PROXY reads), and an `x-served-by` header
 * naming the instance that answered (`i0`, `i1`, …). No health checks: every answer, a failing
 * instance's too, reaches the client. Run as PgBouncer is (@signup/db/testing/server-process);
 * `stop()` signals it by its process id and removes the dir.
 */
export async function startLoadBalancer(backends: readonly string[]): Promise<LoadBalancer> {
  const dir = await serverTempDir('signup-haproxy-')
  const port = await freePort()
  const instances = backends.map((_, i) => `i${i}`)
  const servers = backends.map((backend, i) => `  server i${i} ${new URL(backend).host}`)
  const config = [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  option forwardfor',
    'frontend signup',
    `  bind 127.0.0.1:${port}`,
    '  default_backend instances',
    'backend instances',
    '  balance roundrobin',
    '  http-response set-header x-served-by %s',
    ...servers,
    '',
  ].join('\n')
  const file = path.join(dir, 'haproxy.cfg')
  await writeFile(file, config, { mode: 0o644 })
  const haproxy = spawnServer(HAPROXY, ['-db', '-f', file], dir)
  const stop = async (): Promise<void> => {
    await haproxy.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await pollUntil(`haproxy to listen on port ${port}`, () => accepts(port), { server: haproxy })
  } catch (error) {
    await stop()
    throw error
  }
  return { url: `http://127.0.0.1:${port}`, instances, pid: haproxy.pid, stop }
}

export interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/**
 * One HTTP request on a connection of its own from `localAddress` (any 127.x.y.z: Linux routes
 * the whole block to loopback), so that a load balancer sees a client of that address.
 */
export function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: init.method ?? 'GET', headers: init.headers, localAddress, agent: false },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (body += chunk))
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        )
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(init.body)
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
