// `pnpm db:migrate`: applies prisma/migrations to DIRECT_URL, else DATABASE_URL, or to the embedded
// dev database; never through a pooler (migrationTarget, decision record 020).
import path from 'node:path'
import { migrationTarget, redactDatabaseUrl } from './database-url.ts'
import { embeddedDataDir, startEmbeddedPostgres } from './embedded.ts'
import { migrateDatabase } from './migrate.ts'

/** The directory the dev server uses too. */
const EMBEDDED_DATA_DIR = embeddedDataDir(process.env.DATA_DIR || '.data')

async function main(): Promise<void> {
  const target = migrationTarget(process.env)
  if (target) {
    await migrateDatabase(target.url)
    console.log(`Migrated ${redactDatabaseUrl(target.url)} (${target.variable}).`)
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

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
