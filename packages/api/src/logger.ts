import { pino } from 'pino'
import type { Logger } from 'pino'
import type { Env } from './env.ts'
import { createCensoredLogger } from './log-censor.ts'

export type { Logger }

const FLUSH_INTERVAL_MS = 250
/** Linux's PIPE_BUF: a pipe write up to this size is never interleaved with another writer's. */
const PIPE_BUF = 4096

/** JSON lines in production (for a log pipeline), readable lines in development. */
export function createLogger(env: Pick<Env, 'NODE_ENV' | 'LOG_LEVEL'>): Logger {
  const pretty = env.NODE_ENV === 'development' && process.stdout.isTTY
  // Belt and braces: a password or a code never reaches a line, whoever writes it (log-censor.ts).
  const options = { level: env.LOG_LEVEL, base: undefined }
  if (pretty) {
    return createCensoredLogger({
      ...options,
      transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname' } },
    })
  }
  if (env.NODE_ENV !== 'production') return createCensoredLogger(options)
  // Buffered writes: one syscall per few KiB instead of per line under load. A quiet server still
  // writes each line within FLUSH_INTERVAL_MS, and main.ts flushes on start and on exit. Each write
  // is whole lines of at most PIPE_BUF bytes, which a pipe takes atomically: the workers of
  // WEB_CONCURRENCY > 1 share one stdout, and their lines must not interleave mid-line.
  const logger = createCensoredLogger(
    options,
    pino.destination({ fd: 1, sync: false, minLength: PIPE_BUF - 1024, maxWrite: PIPE_BUF }),
  )
  setInterval(() => logger.flush(), FLUSH_INTERVAL_MS).unref()
  return logger
}
