import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '@signup/db/migrate'
import { TEST_AUTH_SECRET } from '@signup/auth/testing/test-services'

/** The web app, whose production server the tests start by path (no package dependency on it). */
export const WEB_DIR = path.join(REPO_ROOT, 'apps', 'web')

/**
 * What `pnpm start` runs in WEB_DIR (apps/web's start script, checked by
 * apps/web/server/compiled.http.test.ts): the bundle `pnpm build` writes, under plain node.
 */
export const COMPILED_SERVER = { nodeArgs: [] as string[], entry: 'dist/main.mjs' }

export interface RunningServer {
  url: string
  port: number
  /** http://…/metrics when the server was started with METRICS_PORT. */
  metricsUrl: string | undefined
  process: ChildProcess
  /** Everything the server printed, for assertions on its log. */
  output: () => string
  stop(): Promise<void>
}

/**
 * Starts the production server (`pnpm start`'s command, the compiled bundle) as its own process on
 * a free port and resolves once it listens; `dev` starts `pnpm dev`'s instead (tsx, Next in
 * development mode). Needs `pnpm build` to have run (pnpm test does it first).
 */
export async function startServer(
  env: Record<string, string>,
  options: {
    dev?: boolean
    timeoutMs?: number
    keepOutput?: boolean
    nodeArgs?: string[]
    /** Another checkout's apps/web, built (the benchmark's A/B run compares two builds). */
    webDir?: string
  } = {},
): Promise<RunningServer> {
  const webDir = options.webDir ?? WEB_DIR
  const built = ['.next/BUILD_ID', COMPILED_SERVER.entry].every((file) =>
    existsSync(path.join(webDir, file)),
  )
  if (!options.dev && !built) {
    throw new Error(`${webDir} has no production build: run \`pnpm build\` first`)
  }
  const command = options.dev
    ? ['--import', 'tsx', 'server/main.ts']
    : [...COMPILED_SERVER.nodeArgs, COMPILED_SERVER.entry]
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...command], {
    cwd: webDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: options.dev ? 'development' : 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      NEXT_TELEMETRY_DISABLED: '1',
      // Production requires one; tests seed and check sealed codes with it (sealedSmsCode).
      AUTH_SECRET: TEST_AUTH_SECRET,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let listening = false
  // A benchmark's server logs a line per request; past start-up it need not be kept in memory.
  const keep = (chunk: Buffer): void => {
    if (!listening || options.keepOutput !== false) output += chunk.toString()
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server did not start in time:\n${output}`))
    }, options.timeoutMs ?? 60_000)
    const onData = (): void => {
      const match = /listening on http:\/\/localhost:(\d+)/.exec(output)
      if (match?.[1]) {
        listening = true
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${output}`))
    })
  })

  const metricsUrl = /metrics on (http:\/\/[^\s"]+\/metrics)/.exec(output)?.[1]
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    metricsUrl,
    process: child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill('SIGTERM')
      }),
  }
}
