/* eslint-disable no-console -- the entry point reports fatal start-up errors before a logger exists */
import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import { createServer } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import next from 'next'
import { EnvError, loadEnv } from '@signup/api/env'
import type { Env } from '@signup/api/env'
import { createLogger } from '@signup/api/logger'
import type { Logger } from '@signup/api/logger'
import { clusterMetricsSource, shareWithClusterPrimary } from '@signup/api/metrics'
import type { MetricsSource } from '@signup/api/metrics'
import { startMetricsServer } from '@signup/api/metrics-server'
import type { MetricsServer } from '@signup/api/metrics-server'
import { createAppServices } from '@signup/api/services'
import { answerConnect, createLimitedServer } from './connections.ts'
import { trackRequests } from './graceful-shutdown.ts'
import { snapshotGlobals } from './pristine-globals.ts'
import { createClientErrorListener, createRequestListener } from './request-listener.ts'
import { createStaticAssets } from './static-assets.ts'

// dist/main.mjs (the compiled server) and server/main.ts (under tsx) both sit one level below it.
const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** Running as `pnpm build`'s bundle, which leaves out the development stores and tooling. */
const COMPILED = !import.meta.url.endsWith('.ts')

/** What a worker tells the primary once it accepts connections. */
interface ListeningMessage {
  kind: 'listening'
  port: number
  description: string
}

/** After the drain, closing the stores and Next gets this long before the process exits anyway. */
const CLOSE_GRACE_MS = 5_000
/** The workers the primary has not yet seen exit. */
const liveWorkers = (): Worker[] =>
  Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined)

/** A worker replaced more often than this many times a minute means a crash loop: give up. */
const MAX_RESTARTS_PER_MINUTE = 10

async function main(): Promise<void> {
  // Started from anywhere (`node apps/web/dist/main.mjs` under a process manager), it runs in
  // apps/web: the page reads its stylesheet relative to the working directory.
  process.chdir(WEB_DIR)
  const env = loadEnv()
  if (COMPILED && env.NODE_ENV !== 'production') {
    throw new EnvError(
      `dist/main.mjs is the production server (NODE_ENV=production, as pnpm start sets; got ${env.NODE_ENV}): use pnpm dev for development`,
    )
  }
  if (cluster.isPrimary && env.WEB_CONCURRENCY > 1) {
    await supervise(env)
    return
  }
  await serve(env)
}

/** One server process: the API handlers and Next on one port (a cluster worker or the whole server). */
async function serve(env: Env): Promise<void> {
  // Before Next loads its server: what its prepare() patches process-wide (pristine-globals.ts).
  const globals = snapshotGlobals()
  // A worker's lines say which worker wrote them.
  const logger = cluster.worker
    ? createLogger(env).child({ worker: cluster.worker.id })
    : createLogger(env)
  const dev = env.NODE_ENV !== 'production'

  const services = await createAppServices(env, logger)
  // webpack, as `next build --webpack` uses: the same bundler in development as in production
  // (see docs/decisions/011-pages-router-for-the-signup-page.md for why not Turbopack).
  const nextApp = next({
    dev,
    webpack: true,
    dir: WEB_DIR,
    hostname: env.HOST,
    port: env.PORT,
    // Production serves no WebSocket (Next's are development's hot reload). Handed none, Next adds
    // an upgrade listener to the server of its first request, and that listener leaves every
    // Upgrade request's socket open, past all timeouts; this stand-in never listens, so Node
    // answers an Upgrade request as a plain one.
    httpServer: dev ? undefined : createServer(),
  })
  await nextApp.prepare()
  if (!dev) {
    // Development keeps Next's patches: its overlay and dev-time checks rely on them.
    const restored = globals.restore()
    logger.debug({ restored }, "put back the globals Next's prepare() patched")
  }
  const nextHandler = nextApp.getRequestHandler()

  const server = createLimitedServer(env, logger)
  // Before the request listener, so it sees every request first (graceful-shutdown.ts).
  const requests = trackRequests(server)
  const listener = createRequestListener({
    services,
    env,
    logger,
    dev,
    lifecycle: requests,
    // Development leaves /_next/static/ to Next, which compiles it on demand.
    staticAssets: dev ? undefined : createStaticAssets(),
    fallback: (req, res) => nextHandler(req, res),
  })
  server.on('request', listener)
  answerConnect(server, listener)
  server.on('clientError', createClientErrorListener({ services, env, logger }))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(env.PORT, env.HOST, resolve)
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : env.PORT

  // A worker's series are served by the primary, summed over the workers.
  let metricsServer: MetricsServer | undefined
  if (services.metrics.registry && cluster.isWorker) {
    shareWithClusterPrimary(services.metrics.registry)
  } else if (services.metrics.registry) {
    metricsServer = await serveMetrics(env, services.metrics.registry, logger)
  }

  if (cluster.isWorker) {
    // The primary writes the start line once every worker listens.
    const message: ListeningMessage = { kind: 'listening', port, description: services.description }
    process.send?.(message)
  } else {
    // The start line is always written, whatever LOG_LEVEL says: it names the stores in use.
    logger
      .child({}, { level: 'info' })
      .info(
        { port, mode: dev ? 'development' : 'production', metrics: metricsServer?.url },
        `listening on http://localhost:${port} — ${services.description}` +
          (metricsServer ? `; metrics on ${metricsServer.url}` : ''),
      )
  }
  // Production logs are buffered; the start line must not wait for the buffer to fill.
  logger.flush()

  /**
   * docs/contract.md section 11: stop accepting (new connections are refused, /healthz answers
   * 503), let the requests in flight finish for at most SHUTDOWN_TIMEOUT_SECONDS, then close the
   * stores and Next and exit 0. A second signal stops a single server at once (Ctrl-C twice); a
   * WEB_CONCURRENCY worker ignores it, since Ctrl-C reaches it from the terminal and again from
   * the primary.
   */
  let closing = false
  const shutdown = async (signal: string): Promise<void> => {
    if (closing && !cluster.isWorker) {
      logger.warn({ signal, inFlight: requests.inFlight }, 'second signal: stopping now')
      logger.flush()
      process.exit(1)
    }
    if (closing) return
    closing = true
    const timeoutMs = env.SHUTDOWN_TIMEOUT_SECONDS * 1000
    logger.info(
      { signal, inFlight: requests.inFlight, timeoutSeconds: env.SHUTDOWN_TIMEOUT_SECONDS },
      'shutting down: no new connections, finishing the requests in flight',
    )
    logger.flush()
    const { cut } = await requests.drain(timeoutMs)
    if (cut > 0) {
      logger.warn(
        { cut, timeoutSeconds: env.SHUTDOWN_TIMEOUT_SECONDS },
        'requests still in flight at SHUTDOWN_TIMEOUT_SECONDS were cut',
      )
    }
    // A store that hangs on close must not keep the process: exit anyway, and say so.
    setTimeout(() => {
      logger.error({ graceMs: CLOSE_GRACE_MS }, 'stores did not close in time; exiting')
      logger.flush()
      process.exit(1)
    }, CLOSE_GRACE_MS).unref()
    await Promise.allSettled([services.close(), nextApp.close(), metricsServer?.close()])
    logger.info({ cut }, 'stopped')
    logger.flush()
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

/** /metrics on METRICS_HOST:METRICS_PORT, never the public port. */
function serveMetrics(env: Env, source: MetricsSource, logger: Logger): Promise<MetricsServer> {
  return startMetricsServer({
    source,
    host: env.METRICS_HOST,
    port: env.METRICS_PORT ?? 0,
    logger,
  })
}

/**
 * The primary of WEB_CONCURRENCY workers sharing one port (node:cluster hands connections to them
 * in turn). It serves only /metrics, summed over the workers: it starts the workers, replaces
 * one that dies, and on SIGTERM/SIGINT has each drain as a single server does, then exits 0.
 */
async function supervise(env: Env): Promise<void> {
  const logger = createLogger(env)
  const count = env.WEB_CONCURRENCY
  const metricsServer =
    env.METRICS_PORT === undefined
      ? undefined
      : await serveMetrics(env, clusterMetricsSource(), logger)
  /** Ids of the workers that listen now. */
  const listening = new Set<number>()
  let started = false
  let closing = false
  const restarts: number[] = []

  const fork = (): Worker => {
    const worker = cluster.fork()
    worker.on('message', (message: ListeningMessage) => {
      if (message.kind !== 'listening') return
      listening.add(worker.id)
      if (started) {
        logger.info(
          { worker: worker.id, workerPid: worker.process.pid },
          'replacement worker listening',
        )
        return
      }
      if (listening.size === count) {
        started = true
        logger.child({}, { level: 'info' }).info(
          {
            port: message.port,
            mode: env.NODE_ENV,
            workers: count,
            pid: process.pid,
            metrics: metricsServer?.url,
          },
          `listening on http://localhost:${message.port} — ${count} workers; ${message.description}` +
            (metricsServer ? `; metrics on ${metricsServer.url}` : ''),
        )
        logger.flush()
      }
    })
    return worker
  }

  cluster.on('exit', (worker, code, signal) => {
    const wasListening = listening.delete(worker.id)
    if (closing) {
      // A worker that had to be stopped some other way makes the shutdown's exit status 1.
      if (code !== 0 || signal !== null) process.exitCode = 1
      if (liveWorkers().length === 0) {
        logger.flush()
        process.exit()
      }
      return
    }
    // A worker exits 0 only through its own shutdown (a signal meant for the whole group, say
    // Ctrl-C in a terminal, may reach it before the primary): not a crash to replace.
    if (code === 0 && signal === null) {
      if (liveWorkers().length === 0) process.exit()
      return
    }
    // A worker that never listened failed to start: its siblings will too (bad configuration).
    if (!started && !wasListening) {
      logger.error({ code, signal }, 'a worker failed to start; stopping')
      logger.flush()
      process.exitCode = 1
      stopAll()
      return
    }
    const now = Date.now()
    restarts.push(now)
    while ((restarts[0] ?? now) < now - 60_000) restarts.shift()
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      logger.error({ restarts: restarts.length }, 'workers keep dying; stopping')
      logger.flush()
      process.exitCode = 1
      stopAll()
      return
    }
    logger.error({ workerPid: worker.process.pid, code, signal }, 'worker died; starting another')
    fork()
  })

  /** Each worker drains as one server does; one still there well after its own limit is killed. */
  const stopAll = (): void => {
    closing = true
    if (liveWorkers().length === 0) process.exit()
    for (const worker of liveWorkers()) worker.process.kill('SIGTERM')
    setTimeout(
      () => {
        logger.error('workers still running after their shutdown; killing them')
        logger.flush()
        for (const worker of liveWorkers()) worker.process.kill('SIGKILL')
        process.exit(1)
      },
      env.SHUTDOWN_TIMEOUT_SECONDS * 1000 + CLOSE_GRACE_MS * 2,
    ).unref()
  }
  const shutdown = (signal: string): void => {
    if (closing) return
    logger.info(
      { signal, workers: liveWorkers().length, timeoutSeconds: env.SHUTDOWN_TIMEOUT_SECONDS },
      'shutting down: every worker finishes its requests in flight',
    )
    logger.flush()
    stopAll()
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  for (let i = 0; i < count; i++) fork()
}

main().catch((error: unknown) => {
  if (error instanceof EnvError) {
    console.error(error.message)
  } else {
    console.error('Failed to start:', error)
  }
  process.exit(1)
})
