import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The monorepo root (packages/db/src -> ../../..), where prisma.config.ts and prisma/ live. */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)))

const DEFAULT_TIMEOUT_MS = 120_000
// What `migrate deploy` prints last on success, once the migrations are committed and recorded.
const SUCCESS_LINE =
  /All migrations have been successfully applied\.|No pending migrations to apply\./
// After that line the CLI idles ~10 s on a timer its WASM schema engine never clears: don't wait.
const EXIT_GRACE_MS = 500

/** `prisma migrate deploy` failed; output holds what the CLI printed (stdout and stderr). */
export class MigrationError extends Error {
  readonly output: string

  constructor(message: string, output: string) {
    super(`${message}\n${output}`)
    this.name = 'MigrationError'
    this.output = output
  }
}

/**
 * Applies prisma/migrations to the database at url with the root's Prisma CLI
 * (`prisma migrate deploy`: only pending migrations, never resets data). Asynchronous on purpose:
 * the embedded database may be served by this very process, which must keep running meanwhile.
 */
export async function migrateDatabase(
  url: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const child = spawn(process.execPath, [prismaCliPath(), 'migrate', 'deploy'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      // prisma.config.ts connects to DIRECT_URL when set: both name this url.
      DATABASE_URL: url,
      DIRECT_URL: url,
      // Offline-friendly: no telemetry or update check over the network.
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })

  let output = ''
  let succeeded = false
  let stoppedAfterSuccess = false
  let graceTimer: NodeJS.Timeout | undefined
  const onOutput = (chunk: string) => {
    output += chunk
    if (!succeeded && SUCCESS_LINE.test(output)) {
      succeeded = true
      graceTimer = setTimeout(() => {
        stoppedAfterSuccess = true
        child.kill('SIGTERM')
      }, EXIT_GRACE_MS)
    }
  }
  child.stdout.setEncoding('utf8').on('data', onOutput)
  child.stderr.setEncoding('utf8').on('data', onOutput)

  await new Promise<void>((resolve, reject) => {
    // An unreachable database can keep the CLI waiting; never let start-up hang on it.
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new MigrationError(`prisma migrate deploy timed out after ${timeoutMs} ms`, output))
    }, timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      clearTimeout(graceTimer)
      reject(new MigrationError(`prisma migrate deploy could not start: ${error.message}`, output))
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(graceTimer)
      if (code === 0 || stoppedAfterSuccess) resolve()
      else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${String(code)}`
        reject(new MigrationError(`prisma migrate deploy ${how}`, output))
      }
    })
  })
}

/** The CLI's entry script, resolved from the repo root, run with this Node binary (no shell). */
function prismaCliPath(): string {
  const require = createRequire(path.join(REPO_ROOT, 'package.json'))
  const manifestPath = require.resolve('prisma/package.json')
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    bin?: string | Record<string, string>
  }
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.prisma
  if (!bin) throw new Error(`No prisma bin in ${manifestPath}`)
  return path.join(path.dirname(manifestPath), bin)
}
