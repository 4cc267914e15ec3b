/**
 * What a Postgres URL's query says beyond where to connect, in the parameters Prisma documents for
 * its own engine: `pgbouncer=true` (a pooler in transaction mode shares server sessions between
 * clients) and `connection_limit=N` (the size of the app's pool). Prisma's client does not read
 * them here (a driver adapter gets its pool from us, decision record 020), so this does. `pg`
 * ignores query parameters it does not know, so the URL reaches it unchanged.
 */
export interface DatabaseUrlOptions {
  /** `pgbouncer=true`: nothing may rely on session state, named prepared statements included. */
  pgbouncer: boolean
  /** `connection_limit=N`: how many connections this process's pool opens at most. */
  connectionLimit: number | undefined
}

/** The most connection_limit takes: far above any sensible pool; it only catches typos. */
export const MAX_CONNECTION_LIMIT = 1000

/** Reads the options out of a postgres:// URL; throws an Error saying which one is wrong. */
export function readDatabaseUrl(url: string): DatabaseUrlOptions {
  const params = new URL(url).searchParams
  const pgbouncer = params.get('pgbouncer')
  if (pgbouncer !== null && pgbouncer !== 'true' && pgbouncer !== 'false') {
    throw new Error('pgbouncer must be true or false')
  }
  const limit = params.get('connection_limit')
  let connectionLimit: number | undefined
  if (limit !== null) {
    connectionLimit = Number(limit)
    if (!/^\d+$/.test(limit) || connectionLimit < 1 || connectionLimit > MAX_CONNECTION_LIMIT) {
      throw new Error(`connection_limit must be a whole number from 1 to ${MAX_CONNECTION_LIMIT}`)
    }
  }
  return { pgbouncer: pgbouncer === 'true', connectionLimit }
}

/** The URL with its password masked, for logs and messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '<unparsable URL>'
  }
}

/** Where `pnpm db:migrate` applies the migrations, and the variable that named it. */
export interface MigrationTarget {
  url: string
  variable: 'DIRECT_URL' | 'DATABASE_URL'
}

/**
 * Migrations need a session of their own (Prisma's schema engine holds a session-level advisory
 * lock around them), which a pooler in transaction mode does not keep: they run on DIRECT_URL,
 * else on DATABASE_URL, and never through a URL that says `pgbouncer=true`. Undefined: neither
 * is set (the embedded dev database). Throws an Error whose message names the variable to set.
 */
export function migrationTarget(
  env: Record<string, string | undefined>,
): MigrationTarget | undefined {
  const direct = env.DIRECT_URL || undefined
  const pooled = env.DATABASE_URL || undefined
  const target: MigrationTarget | undefined = direct
    ? { url: direct, variable: 'DIRECT_URL' }
    : pooled
      ? { url: pooled, variable: 'DATABASE_URL' }
      : undefined
  if (!target) return undefined
  let options: DatabaseUrlOptions
  try {
    if (!/^postgres(ql)?:$/.test(new URL(target.url).protocol)) throw new Error('not postgres')
    options = readDatabaseUrl(target.url)
  } catch (error) {
    const why =
      error instanceof Error && error.message !== 'not postgres' ? `: ${error.message}` : ''
    throw new Error(`${target.variable} must be a postgres:// or postgresql:// URL${why}`)
  }
  if (options.pgbouncer) {
    throw new Error(
      target.variable === 'DIRECT_URL'
        ? 'DIRECT_URL has pgbouncer=true: it must reach Postgres itself, not a pooler (migrations hold a session-level lock).'
        : 'DATABASE_URL has pgbouncer=true (a pooler in transaction mode), through which migrations cannot run: they hold a session-level lock. Set DIRECT_URL to the database itself (not the pooler) and run pnpm db:migrate again.',
    )
  }
  return target
}
