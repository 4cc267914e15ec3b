/**
 * How every browser in this workspace is launched: Playwright's tests (apps/web), the page bench
 * (bench) and the client's browser test (packages/client) all take their Chromium from here.
 */

/** Debian's Chromium (`apt-get install chromium`), never a downloaded browser. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium'

/**
 * The switches of every launch besides `--headless`, which Playwright adds itself when `headless`
 * is true (so `playwright test --headed` still opens a window): no sandbox (containers, root), no
 * GPU, and none of the browser's own background traffic or first-run work.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** What `chromium.launch()` and Playwright's `use.launchOptions` take, as far as this sets it. */
export interface ChromiumLaunchOptions {
  executablePath: string
  headless: boolean
  args: string[]
}

/**
 * The launch options: `CHROMIUM_PATH` overrides the executable, and the browser is headless, so
 * with the arguments above it runs `--headless --no-sandbox --disable-gpu
 * --disable-background-networking --disable-component-update --disable-sync --no-first-run`.
 */
export function chromiumLaunchOptions(env: NodeJS.ProcessEnv = process.env): ChromiumLaunchOptions {
  return {
    executablePath: env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
  }
}
