import type { NextConfig } from 'next'

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // `pnpm typecheck` checks app/ and server/ together; the build need not do it a second time.
  typescript: { ignoreBuildErrors: true },
}

export default config
