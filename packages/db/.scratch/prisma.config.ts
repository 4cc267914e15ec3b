import path from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import { defineConfig } from 'prisma/config'
process.env.DATABASE_URL ??= 'postgresql://set-DATABASE_URL@127.0.0.1:1/unset'
export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: '/work/main/prisma/schema.prisma',
  migrations: { path: '/work/main/prisma/migrations' },
  adapter: () => Promise.resolve(new PrismaPg({ connectionString: process.env.DATABASE_URL, allowExitOnIdle: true, idleTimeoutMillis: 1, connectionTimeoutMillis: 5000 })),
})
