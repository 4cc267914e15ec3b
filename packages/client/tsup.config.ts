import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/client.ts', 'src/cookie-jar.ts', 'src/health.ts'],
  format: ['esm'],
  // Neither Node nor browser built-ins: the same files run in both.
  platform: 'neutral',
  target: 'es2022',
  clean: true,
  sourcemap: true,
  // Server packages stay imports, never inlined, so the dist check sees any that slip in.
  external: [/^@signup\//, /^@prisma\//, 'ioredis', 'pg', 'next'],
  // The .d.ts keep `import type { AppRouter } from '@signup/api/root'` (docs/decisions/009).
  dts: true,
})
