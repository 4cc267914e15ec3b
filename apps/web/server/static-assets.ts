import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sirv from 'sirv'

/** What `next build` writes for the browser, served at /_next/static/. */
export const STATIC_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '.next',
  'static',
)
export const STATIC_PREFIX = '/_next/static/'

/**
 * Serves the build's static files straight from disk (sirv; its file list is read once at start),
 * off Next's request path: the precompressed .br or .gz copy when the browser takes it
 * (server/precompress.ts writes them at build time), immutable caching since every name carries a
 * content hash. Answers false for a path it does not have, so Next can answer that (404).
 */
export function createStaticAssets(
  dir = STATIC_DIR,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const serve = sirv(dir, {
    dev: false,
    gzip: true,
    brotli: true,
    maxAge: 31_536_000,
    immutable: true,
    // Every path is a file with an extension: never fall back to an index.html or add one.
    extensions: [],
    setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
  })
  return (req, res) => {
    const original = req.url ?? '/'
    if (!original.startsWith(STATIC_PREFIX)) return false
    let found = true
    req.url = original.slice(STATIC_PREFIX.length - 1)
    serve(req, res, () => {
      found = false
    })
    req.url = original
    return found
  }
}
