import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from './generated/prisma/client.ts'

export type { PrismaClient }

export interface CreateDbOptions {
  /** postgresql:// URL of the database (a real server, or the embedded one's URL). */
  url: string
  /** Pool size (pg's default is 10); 1 for the embedded database, which runs one query at once. */
  max?: number
  /** How long to wait for a new connection before failing the query (default 2000 ms). */
  connectionTimeoutMillis?: number
  /** How long an idle connection stays open (default 30 s). */
  idleTimeoutMillis?: number
}

/** One Prisma client over a pg pool, plus the health check and shutdown a server needs. */
export interface Db {
  prisma: PrismaClient
  /**
   * The pg pool Prisma's adapter runs on, for the one statement on the send path that is written
   * as SQL (decision record 012). Everything else goes through `prisma`.
   */
  pool: pg.Pool
  /** Resolves when the database answers `SELECT 1`, rejects otherwise. */
  ping(): Promise<void>
  /** Disconnects Prisma and ends the pool; call once on shutdown. */
  close(): Promise<void>
}

const DEFAULT_CONNECTION_TIMEOUT_MS = 2000
// Idle connections are dropped after this, so a long quiet spell does not pin server sessions.
const IDLE_TIMEOUT_MS = 30_000

/**
 * Connects lazily: nothing is opened until the first query. The pg pool behind the adapter drops
 * a connection that errors (idle or in use, e.g. after pg_terminate_backend) and opens a fresh one
 * for the next query, so no reconnect logic is needed here.
 */
export function createDb(options: CreateDbOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    // Without a timeout pg waits on the OS (minutes for a black-holed host): fail fast instead.
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    idleTimeoutMillis: options.idleTimeoutMillis ?? IDLE_TIMEOUT_MS,
  })
  // An idle client that errors (server restarted, backend terminated) is dropped by the pool; the
  // event must have a listener or Node treats it as unhandled and exits.
  pool.on('error', () => undefined)
  const adapter = new PrismaPg(pool)
  const prisma = new PrismaClient({ adapter })
  let closing: Promise<void> | undefined

  return {
    prisma,
    pool,
    async ping() {
      await prisma.$queryRaw`SELECT 1`
    },
    close() {
      // A pool handed to the adapter is ours to end; repeated calls share the first shutdown.
      closing ??= prisma.$disconnect().then(() => pool.end())
      return closing
    },
  }
}
