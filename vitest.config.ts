import { defineConfig } from 'vitest/config'

/**
 * Three projects, all run by `pnpm test`: pure unit tests, integration tests on real Postgres and
 * Redis, and HTTP tests against the built production server.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/{server,src}/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.integration.test.ts', '**/*.http.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'packages/*/src/**/*.integration.test.ts',
            'apps/*/{server,src}/**/*.integration.test.ts',
          ],
          exclude: ['**/node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'http',
          include: ['packages/*/src/**/*.http.test.ts', 'apps/*/{server,src}/**/*.http.test.ts'],
          exclude: ['**/node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
})
