// Prisma 6.19's CLI with the JavaScript schema engine: no binary download, so it works offline.
// See docs/decisions/001-prisma-offline.md.
import path from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import { defineConfig } from 'prisma/config'

// The schema reads DATABASE_URL even for `prisma generate`, which never connects: give it a
// placeholder that names the variable instead of failing. `pnpm db:migrate` always sets it.
process.env.DATABASE_URL ??= 'postgresql://set-DATABASE_URL@127.0.0.1:1/unset'

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  // Like Prisma's `directUrl`: the CLI needs a session of its own, never a pooler's (decision 020).
  adapter: () =>
    Promise.resolve(
      new PrismaPg({
        connectionString: process.env.DIRECT_URL || process.env.DATABASE_URL,
        connectionTimeoutMillis: 5_000,
      }),
    ),
})
