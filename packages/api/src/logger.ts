import { pino } from 'pino'
import type { Logger } from 'pino'
import type { Env } from './env.ts'

export type { Logger }

const FLUSH_INTERVAL_MS = 250

/** JSON lines in production (for a log pipeline), readable lines in development. */
export function createLogger(env: Pick<Env, 'NODE_ENV' | 'LOG_LEVEL'>): Logger {
  const pretty = env.NODE_ENV === 'development' && process.stdout.isTTY
  const options = {
    level: env.LOG_LEVEL,
    base: undefined,
    // Belt and braces: these never belong in a log line, whoever writes them.
    redact: {
      paths: ['password', 'imageCode', 'image_code', 'smsCode', 'smscode'].flatMap((field) => [
        field,
        `*.${field}`,
      ]),
      censor: '[redacted]',
    },
  }
  if (pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname' } },
    })
  }
  if (env.NODE_ENV !== 'production') return pino(options)
  // Buffered writes: one syscall per few KiB instead of per line under load. A quiet server still
  // writes each line within FLUSH_INTERVAL_MS, and main.ts flushes on start and on exit.
  const logger = pino(options, pino.destination({ fd: 1, sync: false, minLength: 4096 }))
  setInterval(() => logger.flush(), FLUSH_INTERVAL_MS).unref()
  return logger
}
