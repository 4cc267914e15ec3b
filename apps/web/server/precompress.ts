/* eslint-disable no-console -- a build step reports what it wrote */
// Runs after `next build`: writes a brotli (.br) and a gzip (.gz) copy beside every compressible
// file of .next/static, so the server answers /_next/static/* from disk without compressing on
// each request (static-assets.ts). The files are content-hashed, so the copies never go stale.
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { STATIC_DIR } from './static-assets.ts'

const brotli = promisify(brotliCompress)
const gzipAsync = promisify(gzip)
const COMPRESSIBLE = /\.(js|css|json|svg|txt|map)$/
/** Below this the headers outweigh what compression saves. */
const MIN_BYTES = 1024

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) yield* filesUnder(full)
    else if (entry.isFile()) yield full
  }
}

async function main(): Promise<void> {
  let files = 0
  let before = 0
  let after = 0
  for await (const file of filesUnder(STATIC_DIR)) {
    if (!COMPRESSIBLE.test(file) || (await stat(file)).size < MIN_BYTES) continue
    const body = await readFile(file)
    const [br, gz] = await Promise.all([
      brotli(body, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      }),
      gzipAsync(body, { level: constants.Z_BEST_COMPRESSION }),
    ])
    await Promise.all([writeFile(`${file}.br`, br), writeFile(`${file}.gz`, gz)])
    files++
    before += body.length
    after += br.length
  }
  console.log(
    `precompressed ${files} files of ${path.relative(process.cwd(), STATIC_DIR)}: ` +
      `${(before / 1024).toFixed(0)} KB, ${(after / 1024).toFixed(0)} KB as brotli`,
  )
}

await main()
