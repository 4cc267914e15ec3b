import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from './logger.ts'
import type { MetricsSource } from './metrics.ts'

export interface MetricsServer {
  /** Where Prometheus scrapes: http://<METRICS_HOST>:<port>/metrics. */
  url: string
  close(): Promise<void>
}

/**
 * `GET /metrics` in Prometheus's text format on its own address (METRICS_HOST:METRICS_PORT),
 * apart from the public port, so only whoever reaches that address (a scraper on the host or the
 * private network) reads it. Anything else there answers 404.
 */
export async function startMetricsServer(options: {
  source: MetricsSource
  host: string
  port: number
  logger: Logger
}): Promise<MetricsServer> {
  const { source, logger } = options
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n')
      return
    }
    source.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': source.contentType, 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : text)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'metrics could not be collected')
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('error\n')
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, resolve)
  })
  const { port } = server.address() as AddressInfo
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
