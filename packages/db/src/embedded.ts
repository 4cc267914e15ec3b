import { mkdir, open, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { REPO_ROOT } from './migrate.ts'

/** Where the dev server and `pnpm db:migrate` keep the embedded database: <DATA_DIR>/pglite,
 * DATA_DIR relative to the repository root. */
export function embeddedDataDir(dataDir: string): string {
  return path.resolve(REPO_ROOT, dataDir, 'pglite')
}

export interface StartEmbeddedPostgresOptions {
  /** Directory holding the PGlite data files; created if missing, kept across restarts. */
  dataDir: string
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number
}

export interface EmbeddedPostgres {
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  url: string
  /** Connections the server accepts at once; extra ones are closed straight away. */
  maxConnections: number
  /** Closes client connections, the listener and the database (flushing it to dataDir). */
  stop(): Promise<void>
}

/**
 * Connections the socket server accepts. PGlite is one single-session backend: the server
 * multiplexes connections onto it query by query (a transaction pins it to its connection), so
 * more connections add no throughput. This leaves room for the app's pool, a `prisma migrate`
 * child process (its own pool) and a psql session. Clients should keep their pool small (1).
 */
const MAX_CONNECTIONS = 16

/** Directories this process serves: its own pid in a lock file does not tell live from stale. */
const openDataDirs = new Set<string>()

/**
 * The development database used when DATABASE_URL is unset: PGlite (Postgres compiled to WASM,
 * in this process) persisted under dataDir and served over the Postgres wire protocol so that
 * Prisma, pg and the Prisma CLI connect to it like to a real server. Not for production.
 *
 * PGlite accepts any user, password and database name and always answers as user `postgres`
 * in database `postgres`; SSL is refused, which pg's default (no SSL) accepts.
 */
export async function startEmbeddedPostgres(
  options: StartEmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir)
  await mkdir(dataDir, { recursive: true })
  // Two PGlite instances writing one directory corrupt it, so refuse a second one up front.
  if (openDataDirs.has(dataDir)) {
    throw new Error(`Embedded database ${dataDir} is in use by this process already`)
  }
  openDataDirs.add(dataDir)
  let releaseLock: () => Promise<void>
  try {
    releaseLock = await acquireLock(`${dataDir}.lock`, dataDir)
  } catch (error) {
    openDataDirs.delete(dataDir)
    throw error
  }

  let db: PGlite | undefined
  let server: PGLiteSocketServer | undefined
  try {
    db = await PGlite.create({ dataDir })
    server = new PGLiteSocketServer({
      db,
      host: '127.0.0.1',
      port: options.port ?? 0,
      maxConnections: MAX_CONNECTIONS,
    })
    await server.start()
  } catch (error) {
    await server?.stop().catch(() => undefined)
    await db?.close().catch(() => undefined)
    await releaseLock()
    openDataDirs.delete(dataDir)
    throw error
  }

  // getServerConn() is "127.0.0.1:<port>" once listening, with the OS-chosen port for port 0.
  const port = Number(server.getServerConn().split(':').pop())
  const runningServer = server
  const runningDb = db
  let stopping: Promise<void> | undefined

  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    maxConnections: MAX_CONNECTIONS,
    stop() {
      stopping ??= (async () => {
        try {
          await runningServer.stop()
          await runningDb.close()
        } finally {
          await releaseLock()
          openDataDirs.delete(dataDir)
        }
      })()
      return stopping
    },
  }
}

/**
 * Creates lockPath holding this process id; a lock whose process is gone is taken over.
 * Returns the function that removes it.
 */
async function acquireLock(lockPath: string, dataDir: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => rm(lockPath, { force: true })
    } catch (error) {
      if (!isErrnoException(error) || error.code !== 'EEXIST') throw error
    }
    const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10)
    if (Number.isInteger(owner) && owner !== process.pid && isProcessAlive(owner)) {
      throw new Error(
        `Embedded database ${dataDir} is in use by process ${owner}. Stop that process, or ` +
          `delete ${lockPath} if it is not one of ours, or set DATABASE_URL to a real Postgres.`,
      )
    }
    // Stale: its process is gone, or it is this pid's from an earlier life (say, a restarted
    // container), since this process's own servers are caught by openDataDirs.
    await rm(lockPath, { force: true })
  }
  throw new Error(`Could not lock embedded database ${dataDir} (lock file ${lockPath})`)
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return isErrnoException(error) && error.code === 'EPERM'
  }
}

function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error
}
