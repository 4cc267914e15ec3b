import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { freePort, pollUntil, serverTempDir, spawnServer } from './server-process.ts'
import type { ServerProcess } from './server-process.ts'

/** The shared test Postgres (trust auth); TEST_POSTGRES_URL points elsewhere on another machine. */
const TEST_POSTGRES_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

export interface PgBouncerOptions {
  /** Any URL of the Postgres it pools (its host, port and user are used): the shared one by default. */
  upstream?: string
  /**
   * default_pool_size: server connections per database and user. Small by default, so that a
   * test's clients really take turns on the same server sessions.
   */
  poolSize?: number
  /** Any other settings of the [pgbouncer] section (`query_wait_timeout`, ...). */
  settings?: Record<string, string | number>
}

export interface RunningPgBouncer {
  port: number
  /** PgBouncer's own pid (not a wrapper's). */
  pid: number
  poolSize: number
  /**
   * `database` through this PgBouncer with these query parameters: by default `pgbouncer=true`,
   * as the app is configured behind one (Prisma's name for it).
   */
  url(database: string, params?: Record<string, string>): string
  /** A command of PgBouncer's admin console (`SHOW SERVERS`, ...), its rows as objects. */
  admin(command: string): Promise<Record<string, string | number | null>[]>
  /** How many server sessions PgBouncer holds to `database`, and how many clients it has there. */
  sessions(database: string): Promise<{ servers: number; clients: number }>
  /** What PgBouncer logged. */
  output(): string
  /** Stops it by pid (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>
}

/** Debian's pgbouncer, wherever PATH has it (root's PATH has /usr/sbin, others' may not). */
function pgbouncerBinary(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin']) {
    const candidate = path.join(dir, 'pgbouncer')
    if (dir && existsSync(candidate)) return candidate
  }
  throw new Error('pgbouncer is not installed: apt-get install pgbouncer (.ci/run does)')
}

/**
 * Starts Debian's PgBouncer (1.18 on Debian 12) in transaction mode on a free port of
 * 127.0.0.1, in front of `upstream`, with trust auth (as the test Postgres has), and resolves once
 * a query through it answers. Every database name routes to the same-named database upstream.
 */
export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<RunningPgBouncer> {
  const upstream = new URL(options.upstream ?? TEST_POSTGRES_URL)
  const user = decodeURIComponent(upstream.username) || 'postgres'
  const poolSize = options.poolSize ?? 2
  const dir = await serverTempDir('signup-pgbouncer-')
  let server: ServerProcess | undefined
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const ini = path.join(dir, 'pgbouncer.ini')
      await writeFile(
        ini,
        [
          '[databases]',
          `* = host=${upstream.hostname} port=${upstream.port || '5432'}`,
          '[pgbouncer]',
          'listen_addr = 127.0.0.1',
          `listen_port = ${port}`,
          // No unix socket: nothing of this test's is left in /tmp.
          'unix_socket_dir =',
          // The upstream trusts 127.0.0.1; trust here still needs the user in auth_file.
          'auth_type = trust',
          `auth_file = ${path.join(dir, 'userlist.txt')}`,
          `admin_users = ${user}`,
          'pool_mode = transaction',
          `default_pool_size = ${poolSize}`,
          'reserve_pool_size = 0',
          'max_client_conn = 500',
          ...Object.entries(options.settings ?? {}).map(([name, value]) => `${name} = ${value}`),
          '',
        ].join('\n'),
      )
      await writeFile(path.join(dir, 'userlist.txt'), `"${user}" ""\n`)
      server = spawnServer(pgbouncerBinary(), [ini], dir)
      const url = (database: string, params: Record<string, string> = { pgbouncer: 'true' }) => {
        const query = new URLSearchParams(params).toString()
        return `postgresql://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}${query ? `?${query}` : ''}`
      }
      const running = server
      try {
        await pollUntil(
          `pgbouncer answers on port ${port}`,
          () =>
            query(url('pgbouncer', {}), 'SHOW VERSION').then(
              () => true,
              () => false,
            ),
          { server: running },
        )
      } catch (error) {
        // Another process took the port between freePort and the start: try another one.
        if (running.exited() && /Address already in use/.test(running.output()) && attempt < 5) {
          continue
        }
        throw error
      }
      const admin = (command: string) => query(url('pgbouncer', {}), command)
      const count = async (command: string, database: string) =>
        (await admin(command)).filter((row) => row.database === database).length
      return {
        port,
        pid: running.pid,
        poolSize,
        url,
        admin,
        sessions: async (database) => ({
          servers: await count('SHOW SERVERS', database),
          clients: await count('SHOW CLIENTS', database),
        }),
        output: () => running.output(),
        async stop() {
          await running.stop('SIGTERM')
          await rm(dir, { recursive: true, force: true })
        },
      }
    }
  } catch (error) {
    await server?.stop('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

/** One simple-protocol query on a connection of its own (the admin console takes no other). */
async function query(url: string, sql: string): Promise<Record<string, string | number | null>[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    const result = await client.query<Record<string, string | number | null>>(sql)
    return result.rows
  } finally {
    await client.end().catch(() => undefined)
  }
}
