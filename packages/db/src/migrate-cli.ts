// `pnpm db:migrate`: applies prisma/migrations to DATABASE_URL, or to the embedded dev database.
import path from 'node:path'
import { embeddedDataDir, startEmbeddedPostgres } from './embedded.ts'
import { migrateDatabase } from './migrate.ts'

/** The directory the dev server uses too. */
const EMBEDDED_DATA_DIR = embeddedDataDir(process.env.DATA_DIR || '.data')

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL
  if (url) {
    await migrateDatabase(url)
    console.log(`Migrated ${redact(url)} (DATABASE_URL).`)
    return
  }
  const embedded = await startEmbeddedPostgres({ dataDir: EMBEDDED_DATA_DIR, port: 0 })
  try {
    await migrateDatabase(embedded.url)
  } finally {
    await embedded.stop()
  }
  const where = path.relative(process.cwd(), EMBEDDED_DATA_DIR) || EMBEDDED_DATA_DIR
  console.log(`Migrated the embedded PGlite database at ${where} (DATABASE_URL unset).`)
}

/** Prints the host and database, never the password. */
function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '<unparsable DATABASE_URL>'
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
