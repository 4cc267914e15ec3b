import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COMPILED_SERVER, startServer, WEB_DIR } from '@signup/api/testing/test-server'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'

// docs/contract.md section 11: `pnpm start` runs compiled JavaScript, no TypeScript loader.
let stack: TestStack
let pid: number

beforeAll(async () => {
  // Debug, for the line that names the globals put back after Next's prepare().
  stack = await startTestStack('http-compiled', { LOG_LEVEL: 'debug' })
  pid = stack.server.process.pid ?? 0
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

const procFile = (name: string): string => readFileSync(`/proc/${pid}/${name}`, 'utf8')

/** The bare specifiers the bundle leaves to Node: `import … from "x"` and `import("x")`. */
function bundleImports(): Set<string> {
  const dist = path.join(WEB_DIR, 'dist')
  const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.mjs'),
  )
  const specifiers = new Set<string>()
  for (const file of files) {
    const text = readFileSync(path.join(dist, file), 'utf8')
    for (const match of text.matchAll(
      /(?:^|[\s;])(?:import|export)\b[^'"]*?\bfrom\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm,
    )) {
      const specifier = match[1] ?? match[2] ?? match[3]
      if (specifier && !specifier.startsWith('.')) specifiers.add(specifier)
    }
  }
  return specifiers
}

describe('the production process', () => {
  it('is plain node on the bundle, exactly as pnpm start runs it', () => {
    const argv = procFile('cmdline').split('\0').filter(Boolean)
    expect(argv).toEqual([process.execPath, ...COMPILED_SERVER.nodeArgs, COMPILED_SERVER.entry])
    const manifest = JSON.parse(readFileSync(path.join(WEB_DIR, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>
    }
    const start = manifest.scripts.start ?? ''
    expect(start).toContain(
      `node ${[...COMPILED_SERVER.nodeArgs, COMPILED_SERVER.entry].join(' ')}`,
    )
    expect(start).not.toMatch(/tsx|ts-node|--import|--loader|--require/)
  })

  it('has no TypeScript loader: none in its arguments or NODE_OPTIONS, no compiler in memory', () => {
    const argv = procFile('cmdline').split('\0')
    expect(
      argv.filter((arg) => /tsx|ts-node|--import|--loader|--require|strip-types|\.ts$/.test(arg)),
    ).toEqual([])
    const environment = procFile('environ').split('\0')
    const nodeOptions = environment.find((entry) => entry.startsWith('NODE_OPTIONS=')) ?? ''
    expect(nodeOptions).not.toMatch(/--import|--loader|--require|tsx/)
    // Native code mapped into the process: Skia for the captcha, and no compiler (tsx's esbuild,
    // or the SWC Next loads to read a next.config.ts).
    const natives = new Set(
      procFile('maps')
        .split('\n')
        .map((line) => line.split(/\s+/)[5] ?? '')
        .filter((file) => file.endsWith('.node')),
    )
    expect([...natives].map((file) => path.basename(file))).toEqual(['skia.linux-x64-gnu.node'])
    expect([...natives].join('\n')).not.toMatch(/esbuild|swc/)
    // tsx also keeps an esbuild service as a child process; this server has no children at all.
    let children = ''
    try {
      children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    } catch {
      children = '' // pgrep exits 1 when there are none
    }
    expect(children.trim()).toBe('')
  })

  it('bundles the workspace packages: what it imports at run time is Node or apps/web dependencies', () => {
    const manifest = JSON.parse(readFileSync(path.join(WEB_DIR, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    const packageOf = (specifier: string): string =>
      specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/')
    const builtins = new Set(builtinModules)
    const imported = [...bundleImports()].filter(
      (specifier) => !specifier.startsWith('node:') && !builtins.has(specifier),
    )
    // The development-only ones sit in a chunk that only a start without DATABASE_URL loads.
    const developmentOnly = ['@electric-sql/pglite', '@electric-sql/pglite-socket']
    const packages = new Set(
      imported.map(packageOf).filter((name) => !developmentOnly.includes(name)),
    )
    expect([...packages].filter((name) => !(name in manifest.dependencies))).toEqual([])
    expect([...packages].filter((name) => name.startsWith('@signup/'))).toEqual([])
    expect(packages).toContain('next')
  })

  it('serves: healthy, with the page and a captcha', async () => {
    expect((await fetch(`${stack.server.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${stack.server.url}/`)).status).toBe(200)
    const image = await fetch(`${stack.server.url}/passport/image_code?imageCodeId=compiled-1`)
    expect(image.headers.get('content-type')).toBe('image/png')
  })

  it("puts back the process-wide functions Next's prepare() patched (decision record 021)", () => {
    const line = stack.server
      .output()
      .split('\n')
      .find((text) => text.includes("put back the globals Next's prepare() patched"))
    expect(line, 'the debug line naming them').toBeDefined()
    const { restored } = JSON.parse(line ?? '{}') as { restored: string[] }
    // The ones on every request's path: Next's wrappers of the scheduler, the clock and randoms.
    expect(restored).toEqual(
      expect.arrayContaining([
        'process.nextTick',
        'globalThis.setImmediate',
        'globalThis.Date',
        'Math.random',
        'crypto.randomInt',
        'process.on',
      ]),
    )
  })

  it('refuses to start outside production, pointing at pnpm dev', async () => {
    const started = startServer({
      NODE_ENV: 'development',
      DATABASE_URL: stack.database.url,
      REDIS_URL: 'redis://127.0.0.1:6379',
    })
    await expect(started).rejects.toThrow(/exited with 1 before listening/)
    await expect(started).rejects.toThrow('dist/main.mjs is the production server')
  })
})
