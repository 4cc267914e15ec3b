/* eslint-disable no-console -- a benchmark reports to its terminal */
// The original Flask system's send view (bench/original/app.py) as a contestant of `pnpm bench`
// (issue 17), run as it was deployed: gunicorn with 4 sync workers. Its Python packages go into a
// venv under .data/, made once with `python3 -m venv` and `pip install -r requirements.txt` and
// reused until requirements.txt changes. Whatever fails here, the bench goes on without it.
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import type autocannon from 'autocannon'
import { REPO_ROOT } from '@signup/db/migrate'
import { freePort, pollUntil } from '@signup/db/testing/server-process'
import { freshSends } from './load.ts'
import { childPids } from './turns.ts'

const APP_DIR = path.join(import.meta.dirname, '..', 'original')
const REQUIREMENTS = path.join(APP_DIR, 'requirements.txt')
const VENV = path.join(REPO_ROOT, '.data', 'bench-original-venv')
/** A copy of the requirements the venv was installed from, written once the install succeeded. */
const INSTALLED = path.join(VENV, 'installed-requirements.txt')
/** As in issue 17's figure for the original: `gunicorn -w 4`, sync workers. */
const WORKERS = 4
/** What gunicorn printed last is kept to say why it did not start. */
const OUTPUT_KEPT = 4096

export interface OriginalServer {
  url: string
  /** gunicorn's master; its workers are its children (cpuMs counts them). */
  pid: number
  stop(): Promise<void>
}

/** The original running, or the one reason it is not measured. */
export type Original = { server: OriginalServer } | { notMeasured: string }

/** The original's load: fresh mobiles in the 18x range, one its regex accepts (13x/15x/17x/18x). */
export const originalSends = (pool: number): (() => autocannon.Request[]) => freshSends('18', pool)

const execFileAsync = promisify(execFile)

/** Runs a setup step; a failure says which step and the last line it printed. */
async function setupStep(what: string, command: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 })
  } catch (error) {
    const failed = error as NodeJS.ErrnoException & { stderr?: string }
    if (failed.code === 'ENOENT') throw new Error(`${command} not found`)
    const lines = (failed.stderr ?? '').trim().split('\n')
    throw new Error(`${what} failed: ${lines.at(-1) || failed.message}`)
  }
}

async function ensureVenv(): Promise<void> {
  const requirements = readFileSync(REQUIREMENTS, 'utf8')
  if (existsSync(INSTALLED) && readFileSync(INSTALLED, 'utf8') === requirements) return
  console.log(
    `the original: installing its Python packages into ${path.relative(REPO_ROOT, VENV)} (once)`,
  )
  await rm(VENV, { recursive: true, force: true })
  await setupStep('python3 -m venv', 'python3', ['-m', 'venv', VENV])
  await setupStep('pip install', path.join(VENV, 'bin', 'pip'), [
    'install',
    '--quiet',
    '--requirement',
    REQUIREMENTS,
  ])
  await writeFile(INSTALLED, requirements)
}

/** A Python exception's own line (gunicorn's log lines start with a timestamp in brackets). */
const whyItStopped = (output: string): string => {
  const lines = output.trim().split('\n')
  return lines.findLast((line) => line !== '' && !line.startsWith('[')) ?? lines.at(-1) ?? ''
}

async function startGunicorn(env: {
  DATABASE_URL: string
  REDIS_URL: string
  REDIS_KEY_PREFIX: string
}): Promise<OriginalServer> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(
    path.join(VENV, 'bin', 'gunicorn'),
    ['--workers', String(WORKERS), '--bind', `127.0.0.1:${port}`, 'app:app'],
    {
      cwd: APP_DIR,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  let gone = false
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      gone = true
      resolve()
    })
    child.once('error', (error) => {
      keep(Buffer.from(error.message))
      gone = true
      resolve()
    })
  })
  const pid = child.pid ?? 0
  const server: OriginalServer = {
    url,
    pid,
    async stop() {
      if (gone) return
      const workers = childPids(pid)
      // SIGQUIT is gunicorn's quick shutdown: the master stops its workers, then exits.
      child.kill('SIGQUIT')
      const timer = setTimeout(() => {
        for (const stuck of [pid, ...workers]) {
          try {
            process.kill(stuck, 'SIGKILL')
          } catch {
            // already gone
          }
        }
      }, 10_000)
      await exit
      clearTimeout(timer)
    },
  }
  try {
    // Ready once a worker answers (the view refuses GET with 405) and all the workers are up.
    await pollUntil('the original answers on its port', async () => {
      if (gone) throw new Error(`gunicorn exited: ${whyItStopped(output)}`)
      try {
        await fetch(`${url}/passport/sms_code`)
      } catch {
        return false
      }
      return childPids(pid).length >= WORKERS
    })
  } catch (error) {
    await server.stop()
    throw error
  }
  return server
}

/**
 * Starts the original on the bench's database and Redis, under its own key prefix, unless
 * BENCH_ORIGINAL=0; a missing python3, a failed venv or install, or a gunicorn that does not come
 * up is reported as the reason it is not measured.
 */
export async function startOriginal(env: {
  DATABASE_URL: string
  REDIS_URL: string
  REDIS_KEY_PREFIX: string
}): Promise<Original> {
  if (process.env.BENCH_ORIGINAL === '0') return { notMeasured: 'BENCH_ORIGINAL=0' }
  try {
    await ensureVenv()
    return { server: await startGunicorn(env) }
  } catch (error) {
    return { notMeasured: error instanceof Error ? error.message : String(error) }
  }
}
