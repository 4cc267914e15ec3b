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
import { createAppServices } from '@signup/api/services'
import { createRequestListener } from './request-listener.ts'
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

const SHUTDOWN_GRACE_MS = 5_000
/** The workers the primary has not yet seen exit. */
const liveWorkers = (): Worker[] =>
  Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined)

/** A worker replaced more often than this many times a minute means a crash loop: give up. */
const MAX_RESTARTS_PER_MINUTE = 10

async function main(): Promise<void> {
  const env = loadEnv()
  if (COMPILED && env.NODE_ENV !== 'production') {
    throw new EnvError(
      `dist/main.mjs is the production server (NODE_ENV=production, as pnpm start sets; got ${env.NODE_ENV}): use pnpm dev for development`,
    )
  }
  if (cluster.isPrimary && env.WEB_CONCURRENCY > 1) {
    supervise(env)
    return
  }
  await serve(env)
}

/** One server process: the API handlers and Next on one port (a cluster worker or the whole server). */
async function serve(env: Env): Promise<void> {
  // A worker's lines say which worker wrote them.
  const logger = cluster.worker
    ? createLogger(env).child({ worker: cluster.worker.id })
    : createLogger(env)
  const dev = env.NODE_ENV !== 'production'

  const services = await createAppServices(env, logger)
  // webpack, as `next build --webpack` uses: the same bundler in development as in production
  // (see docs/decisions/011-pages-router-for-the-signup-page.md for why not Turbopack).
  const nextApp = next({ dev, webpack: true, dir: WEB_DIR, hostname: env.HOST, port: env.PORT })
  await nextApp.prepare()
  const nextHandler = nextApp.getRequestHandler()

  const server = createServer(
    { keepAliveTimeout: 65_000, requestTimeout: 30_000, headersTimeout: 20_000 },
    createRequestListener({
      services,
      env,
      logger,
      dev,
      // Development leaves /_next/static/ to Next, which compiles it on demand.
      staticAssets: dev ? undefined : createStaticAssets(),
      fallback: (req, res) => nextHandler(req, res),
    }),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(env.PORT, env.HOST, resolve)
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : env.PORT
  if (cluster.isWorker) {
    // The primary writes the start line once every worker listens.
    const message: ListeningMessage = { kind: 'listening', port, description: services.description }
    process.send?.(message)
  } else {
    // The start line is always written, whatever LOG_LEVEL says: it names the stores in use.
    logger
      .child({}, { level: 'info' })
      .info(
        { port, mode: dev ? 'development' : 'production' },
        `listening on http://localhost:${port} — ${services.description}`,
      )
  }
  // Production logs are buffered; the start line must not wait for the buffer to fill.
  logger.flush()

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'shutting down')
    server.close()
    server.closeIdleConnections()
    void Promise.all([services.close(), nextApp.close()]).finally(() => {
      logger.flush()
      process.exit(0)
    })
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref()
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

/**
 * The primary of WEB_CONCURRENCY workers sharing one port (node:cluster hands connections to them
 * in turn). It serves nothing itself: it starts the workers, replaces one that dies, and on
 * SIGTERM/SIGINT lets each finish its requests before it exits.
 */
function supervise(env: Env): void {
  const logger = createLogger(env)
  const count = env.WEB_CONCURRENCY
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
        logger
          .child({}, { level: 'info' })
          .info(
            { port: message.port, mode: env.NODE_ENV, workers: count, pid: process.pid },
            `listening on http://localhost:${message.port} — ${count} workers; ${message.description}`,
          )
        logger.flush()
      }
    })
    return worker
  }

  cluster.on('exit', (worker, code, signal) => {
    const wasListening = listening.delete(worker.id)
    if (closing) {
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

  const stopAll = (): void => {
    closing = true
    if (liveWorkers().length === 0) process.exit()
    for (const worker of liveWorkers()) worker.process.kill('SIGTERM')
    setTimeout(() => {
      for (const worker of liveWorkers()) worker.process.kill('SIGKILL')
      process.exit()
    }, SHUTDOWN_GRACE_MS * 2).unref()
  }
  const shutdown = (signal: string): void => {
    if (closing) return
    logger.info({ signal }, 'shutting down')
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
