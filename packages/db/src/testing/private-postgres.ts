import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import {
  freePort,
  pollUntil,
  postgresBinDir,
  serverAccount,
  serverTempDir,
  spawnServer,
} from './server-process.ts'
import type { ServerProcess } from './server-process.ts'

/**
 * A Postgres server of one test's own, for what the shared one must never see (a crash, a
 * restart): its own data directory under a temp dir, its own port, trust auth on 127.0.0.1.
 */
export interface PrivatePostgres {
  port: number
  /** The postmaster's pid while it runs. */
  pid(): number
  /** postgresql://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string
  /**
   * Stops it as a crash would: SIGQUIT to the postmaster (immediate shutdown: backends quit at
   * once, no checkpoint, crash recovery at the next start). Resolves once it has exited.
   */
  crash(): Promise<void>
  /** Starts it again on the same directory and port; resolves once it answers a query. */
  start(): Promise<void>
  /** Stops it by pid and removes its directory. */
  stop(): Promise<void>
}

const run = promisify(execFile)

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = await serverTempDir('signup-postgres-')
  const dataDir = path.join(dir, 'data')
  const bin = postgresBinDir()
  const account = serverAccount()
  // --no-sync: a test's cluster need not survive the machine; it must survive its own crash.
  await run(
    path.join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { ...account, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
  ).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true })
    throw error
  })

  let server: ServerProcess | undefined
  let port = 0
  const url = (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`
  const answers = () =>
    queryOnce(url()).then(
      () => true,
      () => false,
    )

  async function start(): Promise<void> {
    const started = spawnServer(
      path.join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'],
      dir,
    )
    server = started
    await pollUntil(`postgres answers on port ${port}`, answers, { server: started })
  }

  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      try {
        await start()
        break
      } catch (error) {
        // Another process took the port between freePort and the start: try another one.
        if (!/could not bind|Address already in use/.test(String(error)) || attempt >= 5) {
          throw error
        }
      }
    }
  } catch (error) {
    await server?.stop('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw error
  }

  return {
    port,
    pid: () => server?.pid ?? -1,
    url,
    async crash() {
      await server?.stop('SIGQUIT')
    },
    start,
    async stop() {
      // SIGINT is Postgres's fast shutdown: sessions are ended, nothing is left to recover.
      await server?.stop('SIGINT')
      await rm(dir, { recursive: true, force: true })
    },
  }
}

async function queryOnce(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.query('SELECT 1')
  } finally {
    await client.end().catch(() => undefined)
  }
}
