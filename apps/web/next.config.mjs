// @ts-check
// Plain JavaScript, not next.config.ts: the production server loads this file at start, and a
// TypeScript config would make Next load its SWC compiler into that process to read it (about
// 45 MB of RSS; docs/decisions/016-compiled-server-and-metrics.md).

/** @type {import('next').NextConfig} */
const config = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The form shares its zod schema with the server: compile that workspace package's source.
  transpilePackages: ['@signup/auth'],
  // `pnpm typecheck` checks pages/, src/ and server/; the build need not do it a second time.
  typescript: { ignoreBuildErrors: true },
}

export default config
