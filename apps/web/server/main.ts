/* eslint-disable no-console -- the entry point reports fatal start-up errors before a logger exists */
import { createServer } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import next from 'next'
import { EnvError, loadEnv } from '@signup/api/env'
import { createLogger } from '@signup/api/logger'
import { createAppServices } from '@signup/api/services'
import { createRequestListener } from './request-listener.ts'

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

async function main(): Promise<void> {
  const env = loadEnv()
  const logger = createLogger(env)
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
      fallback: (req, res) => nextHandler(req, res),
    }),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(env.PORT, env.HOST, resolve)
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : env.PORT
  // The start line is always written, whatever LOG_LEVEL says: it names the stores in use.
  logger
    .child({}, { level: 'info' })
    .info(
      { port, mode: dev ? 'development' : 'production' },
      `listening on http://localhost:${port} — ${services.description}`,
    )
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
    setTimeout(() => process.exit(0), 5_000).unref()
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

main().catch((error: unknown) => {
  if (error instanceof EnvError) {
    console.error(error.message)
  } else {
    console.error('Failed to start:', error)
  }
  process.exit(1)
})
