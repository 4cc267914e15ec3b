import type { NextConfig } from 'next'

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The form shares its zod schema with the server: compile that workspace package's source.
  transpilePackages: ['@signup/auth'],
  // `pnpm typecheck` checks pages/, src/ and server/; the build need not do it a second time.
  typescript: { ignoreBuildErrors: true },
}

export default config
