import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { beforeAll, describe, expect, it } from 'vitest'
import { isServerSpecifier, loadRecorder, serverModulesIn } from './load-recorder.ts'

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DIST = path.join(PACKAGE_DIR, 'dist')
const ENTRIES = ['client', 'cookie-jar', 'health']
const run = promisify(execFile)

/** Newest change among what the build reads from this package, against the oldest output. */
function distIsStale(): boolean {
  const outputs = ENTRIES.flatMap((name) => [`${name}.js`, `${name}.d.ts`]).map((file) =>
    path.join(DIST, file),
  )
  let oldestOutput = Infinity
  for (const file of outputs) {
    try {
      oldestOutput = Math.min(oldestOutput, statSync(file).mtimeMs)
    } catch {
      return true
    }
  }
  const sources = readdirSync(path.join(PACKAGE_DIR, 'src'))
    .filter((file) => !file.includes('.test'))
    .map((file) => path.join(PACKAGE_DIR, 'src', file))
  const inputs = [...sources, path.join(PACKAGE_DIR, 'tsup.config.ts')]
  return inputs.some((file) => statSync(file).mtimeMs > oldestOutput)
}

/** Every module specifier a JavaScript or declaration file imports, exports from or requires. */
function specifiersOf(code: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  return patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1] ?? ''))
}

const distFiles = (suffix: string): string[] =>
  readdirSync(DIST)
    .filter((file) => file.endsWith(suffix))
    .map((file) => path.join(DIST, file))

beforeAll(() => {
  // pnpm test builds first; run alone, the test builds the package itself when dist is missing or old.
  if (distIsStale()) execFileSync('pnpm', ['exec', 'tsup'], { cwd: PACKAGE_DIR, stdio: 'pipe' })
}, 120_000)

describe('the built package (dist)', () => {
  it('has JavaScript and declarations for each entry', () => {
    for (const name of ENTRIES) {
      expect(statSync(path.join(DIST, `${name}.js`)).size).toBeGreaterThan(0)
      expect(statSync(path.join(DIST, `${name}.d.ts`)).size).toBeGreaterThan(0)
    }
  })

  it('JavaScript imports nothing but @trpc/client and its own files', () => {
    const imported = distFiles('.js').flatMap((file) => specifiersOf(readFileSync(file, 'utf8')))
    expect(imported).toContain('@trpc/client')
    expect(imported.filter(isServerSpecifier)).toEqual([])
    expect(imported.filter((specifier) => !specifier.startsWith('./'))).toEqual(
      imported.filter((specifier) => specifier === '@trpc/client'),
    )
  })

  it('declarations reach the server only through the AppRouter type', () => {
    const dts = distFiles('.d.ts').map((file) => readFileSync(file, 'utf8'))
    const imported = dts.flatMap(specifiersOf)
    expect(imported.filter(isServerSpecifier)).toEqual(
      imported.filter((specifier) => specifier === '@signup/api/root'),
    )
    expect(dts.join('\n')).toMatch(/import \{ AppRouter \} from '@signup\/api\/root'/)
  })

  it('loads in a fresh Node process without a server module, and answers a network failure', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number }
        probe.close(() => resolve(port))
      })
    })
    const dir = mkdtempSync(path.join(tmpdir(), 'signup-client-dist-'))
    try {
      const log = path.join(dir, 'loads.log')
      const recorder = loadRecorder(log)
      const script = `
        const { createAuthClient, refusalOf } = await import(${JSON.stringify(pathToFileURL(path.join(DIST, 'client.js')).href)})
        const { createCookieJar } = await import(${JSON.stringify(pathToFileURL(path.join(DIST, 'cookie-jar.js')).href)})
        const { getHealth } = await import(${JSON.stringify(pathToFileURL(path.join(DIST, 'health.js')).href)})
        const jar = createCookieJar({ cookies: 'sid=x' })
        const client = createAuthClient({ url: 'http://127.0.0.1:${closedPort}', fetch: jar.fetch })
        const failure = await client.auth.getImageCode.mutate().then(() => null, (error) => error)
        console.log(JSON.stringify({
          name: failure?.name,
          refusal: refusalOf(failure),
          health: typeof getHealth,
          cookie: jar.header(),
        }))`
      const { stdout } = await run(
        process.execPath,
        [...recorder.args, '--input-type=module', '-e', script],
        { cwd: dir, env: { PATH: process.env.PATH ?? '', ...recorder.env } },
      )
      expect(JSON.parse(stdout)).toEqual({
        name: 'TRPCClientError',
        refusal: null,
        health: 'function',
        cookie: 'sid=x',
      })
      const loads = readFileSync(log, 'utf8')
      expect(loads).toContain('@trpc/client ')
      expect(serverModulesIn(loads)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)

  it('bundles for the browser with no Node built-in', async () => {
    const result = await build({
      entryPoints: ENTRIES.map((name) => path.join(DIST, `${name}.js`)),
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outdir: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    })
    expect(result.errors).toEqual([])
    expect(result.warnings).toEqual([])
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.some((input) => input.includes('@trpc/client'))).toBe(true)
    expect(
      inputs.filter((input) => /^node:|(^|\/)node_modules\/(@types\/node|undici)\//.test(input)),
    ).toEqual([])
    expect(
      inputs.filter(
        (input) => isServerSpecifier(input) || /packages\/(api|auth|db|kv|sms)\//.test(input),
      ),
    ).toEqual([])
  }, 30_000)
})
