import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { chown, mkdtemp } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

/**
 * Postgres and PgBouncer refuse to run as root: root runs them as the `postgres` account (Node
 * sets the uid itself, so the pid a test holds is the server's own, not a `runuser` in between);
 * anyone else runs them as themselves.
 */
export function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }))
  return { uid: id('-u'), gid: id('-g') }
}

/** A new directory under the OS temp dir that the server account owns. */
export async function serverTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  const account = serverAccount()
  if (account) await chown(dir, account.uid, account.gid)
  return dir
}

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** A server process of a test, started in the foreground under the server account. */
export interface ServerProcess {
  child: ChildProcess
  pid: number
  /** What it printed (stdout and stderr), for a failure message. */
  output(): string
  /** Whether it has exited. */
  exited(): boolean
  /**
   * Sends `signal` and resolves once the process has exited; SIGKILL after `graceMs` if it is still
   * there. Safe to call on a process that already exited.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>
}

/** Keeps the last this many characters of a server's output: enough to say why it failed. */
const OUTPUT_KEPT = 64 * 1024

export function spawnServer(command: string, args: string[], cwd: string): ServerProcess {
  const child = spawn(command, args, {
    cwd,
    ...serverAccount(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', (error) => {
      keep(Buffer.from(`${command}: ${error.message}\n`))
      resolve()
    })
  })
  const exited = () => child.exitCode !== null || child.signalCode !== null
  return {
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (!exited() && child.pid !== undefined) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exit
      clearTimeout(timer)
    },
  }
}

/**
 * Polls `check` until it answers true, and fails naming `what` after `timeoutMs`, or at once with
 * the server's output when the server exited meanwhile.
 */
export async function pollUntil(
  what: string,
  check: () => Promise<boolean>,
  { server, timeoutMs = 30_000 }: { server?: ServerProcess; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (server?.exited()) throw new Error(`${what}: the server exited\n${server.output()}`)
    if (Date.now() > deadline) {
      throw new Error(`not within ${timeoutMs} ms: ${what}\n${server?.output() ?? ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The directory of Postgres's programs (initdb, postgres), as pg_config names it. */
export function postgresBinDir(): string {
  return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
}
