/* eslint-disable no-console -- a build step reports what it wrote */
// Runs in `pnpm build` after `next build`: bundles server/main.ts with the workspace packages and
// their pure-JavaScript dependencies into dist/, which `pnpm start` runs with plain `node`, no
// TypeScript loader (docs/decisions/016-compiled-server-and-metrics.md).
import { createRequire } from 'node:module'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Metafile } from 'esbuild'

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** dist/ sits beside server/, so paths the server derives from its own location still hold. */
const OUT_DIR = path.join(WEB_DIR, 'dist')

/**
 * Left to Node at run time, so each must be a dependency of this app (checked below):
 * Next's own runtime (it loads React, its compiled pages and its config from .next and the app
 * directory); @napi-rs/canvas, a native module; the captcha font, a file resolved by path.
 */
const RUNTIME_DEPENDENCIES = ['next', '@napi-rs/canvas', '@fontsource/atkinson-hyperlegible']

/**
 * Imported only where the compiled server never goes: pino-pretty is the development log format,
 * PGlite the embedded development database (services.ts imports it only without DATABASE_URL,
 * which production requires), pg-native an optional driver pg never loads unless asked.
 */
const DEVELOPMENT_ONLY = [
  'pino-pretty',
  '@electric-sql/pglite',
  '@electric-sql/pglite-socket',
  'pg-native',
]

function checkRuntimeDependencies(): void {
  const require = createRequire(path.join(WEB_DIR, 'package.json'))
  const missing = RUNTIME_DEPENDENCIES.filter((name) => {
    try {
      require.resolve(`${name}/package.json`)
      return false
    } catch {
      return true
    }
  })
  if (missing.length > 0) {
    throw new Error(
      `the compiled server loads ${missing.join(', ')} at run time: add them to apps/web's dependencies`,
    )
  }
}

/** The bundle's size by package, largest first: what to look at when it grows. */
function sizesByPackage(metafile: Metafile): string[] {
  const sizes = new Map<string, number>()
  for (const [file, { bytesInOutput }] of Object.values(metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs),
  )) {
    const name =
      /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ??
      'workspace'
    sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput)
  }
  return [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KB`)
}

async function main(): Promise<void> {
  checkRuntimeDependencies()
  await rm(OUT_DIR, { recursive: true, force: true })
  const result = await build({
    absWorkingDir: WEB_DIR,
    entryPoints: { main: 'server/main.ts' },
    outdir: OUT_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // Dynamic imports (the embedded database, Prisma's query compiler) become chunks loaded
    // only when reached, so a production start never parses them before its first query.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    external: [...RUNTIME_DEPENDENCIES, ...RUNTIME_DEPENDENCIES.map((name) => `${name}/*`)].concat(
      DEVELOPMENT_ONLY,
    ),
    // The CommonJS packages inside (pg, ioredis, Prisma's runtime) call require().
    banner: {
      js: "import { createRequire as __signupCreateRequire } from 'node:module'; const require = __signupCreateRequire(import.meta.url);",
    },
    // For stack traces by TypeScript source: NODE_OPTIONS=--enable-source-maps, when debugging
    // (it costs about 20 MB of RSS per process and 80 ms of start-up, so pnpm start goes without).
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
  })
  const kb = (filter: (file: string) => boolean): string => {
    const bytes = Object.entries(result.metafile.outputs)
      .filter(([file]) => file.endsWith('.mjs') && filter(file))
      .reduce((sum, [, output]) => sum + output.bytes, 0)
    return `${(bytes / 1024).toFixed(0)} KB`
  }
  console.log(
    `bundled server/main.ts into ${path.relative(process.cwd(), OUT_DIR)}: ` +
      `main.mjs ${kb((file) => file.endsWith('/main.mjs'))}, chunks loaded when first used ` +
      `${kb((file) => file.includes('/chunks/'))} (largest: ${sizesByPackage(result.metafile).join(', ')})`,
  )
}

await main()
