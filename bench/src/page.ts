// The pages' weight and speed: first-load JavaScript of `/`, `/login` and `/reset` from the
// production build, and largest contentful paint and time to interactive measured in Chromium.
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { chromiumLaunchOptions } from '@signup/chromium'
import { WEB_DIR } from '@signup/api/testing/test-server'

/** The pages measured; `captcha`: the page shows one as it loads (its paint is timed too). */
export const PAGES = [
  { path: '/', captcha: true },
  { path: '/login', captcha: false },
  { path: '/reset', captcha: true },
] as const

export type BenchPage = (typeof PAGES)[number]

/** Every load is on a 375 px phone screen. */
const PHONE = { width: 375, height: 740 }

/** The workspace's one Chromium launch (tooling/chromium): Debian's, `CHROMIUM_PATH` overrides it. */
function launchChromium(): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions())
}

/**
 * Sums the gzip size of every script a prerendered page (`/` is index.html, `/login` login.html)
 * makes the browser download, as the build wrote them: each `<script src>` (the pages router's runtime, framework, shared and page chunks
 * and its build manifests) and each script the HTML preloads. `noModule` scripts are legacy
 * polyfills that current browsers never download.
 */
export async function firstLoadJs(route: string): Promise<{
  files: number
  gzipBytes: number
  rawBytes: number
  perFile: { file: string; gzipBytes: number; rawBytes: number }[]
}> {
  const name = route === '/' ? 'index' : route.replace(/^\//, '')
  const html = await readFile(path.join(WEB_DIR, `.next/server/pages/${name}.html`), 'utf8')
  const scripts = [...html.matchAll(/<script([^>]+)>/g)]
    .filter((match) => !/nomodule/i.test(match[1] ?? ''))
    .map((match) => /src="(\/_next\/static\/[^"]+\.js)"/.exec(match[1] ?? '')?.[1])
  const preloads = [...html.matchAll(/<link([^>]+)>/g)]
    .filter((match) => /rel="(?:preload|modulepreload)"/.test(match[1] ?? ''))
    .filter((match) => /as="script"/.test(match[1] ?? '') || /modulepreload/.test(match[1] ?? ''))
    .map((match) => /href="(\/_next\/static\/[^"]+\.js)"/.exec(match[1] ?? '')?.[1])
  const sources = new Set(
    [...scripts, ...preloads].filter((source): source is string => source !== undefined),
  )
  const perFile = []
  for (const source of sources) {
    const file = await readFile(path.join(WEB_DIR, '.next', source.replace('/_next/', '')))
    perFile.push({
      file: source,
      rawBytes: file.length,
      gzipBytes: gzipSync(file, { level: 9 }).length,
    })
  }
  return {
    files: perFile.length,
    gzipBytes: perFile.reduce((sum, entry) => sum + entry.gzipBytes, 0),
    rawBytes: perFile.reduce((sum, entry) => sum + entry.rawBytes, 0),
    perFile,
  }
}

export interface PageTiming {
  lcpMs: number
  /** Navigation start until React has hydrated the page (its handlers answer input). */
  interactiveMs: number
  /** Navigation start until the first captcha is shown (hydrated, and the API answered); null
   * for a page that shows none as it loads. */
  captchaMs: number | null
}

/**
 * Resolves with the time of the `signup:hydrated` mark, once the page has set it (PageShell's first
 * effect). A string, so that tsx's name helpers (which the page does not have) stay out of it.
 */
const HYDRATED_AT = `new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error('the page did not hydrate within 30 s')), 30000)
  const read = () => performance.getEntriesByName('signup:hydrated')[0]?.startTime
  if (read() !== undefined) return resolve(read())
  new PerformanceObserver((_, observer) => {
    if (read() === undefined) return
    observer.disconnect()
    resolve(read())
  }).observe({ type: 'mark' })
})`

/** When the first captcha image is decoded and painted (the same string form as above). */
const CAPTCHA_SHOWN_AT = `new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error('no captcha within 30 s')), 30000)
  const poll = () => {
    const image = document.querySelector('[data-testid="captcha-image"]')
    if (!image) return requestAnimationFrame(poll)
    image.decode().then(() => requestAnimationFrame(() => resolve(performance.now())), reject)
  }
  poll()
})`

/** Busy and total CPU time of the whole machine so far, from /proc/stat (Linux). */
async function cpuTimes(): Promise<{ busy: number; total: number } | undefined> {
  try {
    const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]?.trim().split(/\s+/)
    const ticks = (fields ?? []).slice(1, 9).map(Number)
    const total = ticks.reduce((sum, tick) => sum + tick, 0)
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
    return { busy: total - idle, total }
  } catch {
    return undefined
  }
}

/**
 * Waits until the machine's CPUs were at least 90% idle over a quarter of a second (at most
 * 10 s). Each fresh browser context opens a new headless window, and Chromium then loads that
 * window's own WebUI (the omnibox popup, chrome://omnibox-popup.top-chrome: about 50 modules,
 * half a second of a renderer's main thread and as much again on its workers). On two cores that
 * work ran alongside the page being measured and added about 200 ms to its time to interactive.
 * A visitor's browser has long finished opening its window when they navigate, so the page is
 * loaded once the browser is quiet. Returns false if it never got quiet.
 */
async function waitForQuietCpu(): Promise<boolean> {
  const deadline = Date.now() + 10_000
  let before = await cpuTimes()
  if (!before) return true
  while (Date.now() < deadline) {
    await sleep(250)
    const after = await cpuTimes()
    if (!after) return true
    const total = after.total - before.total
    if (total > 0 && (after.busy - before.busy) / total <= 0.1) return true
    before = after
  }
  return false
}

/** `BENCH_PAGE_QUIET=0` loads at once, as the bench did before (for comparison). */
const QUIET = process.env.BENCH_PAGE_QUIET !== '0'

export interface PageTimings extends PageTiming {
  /** Every load's time to interactive, in load order. */
  interactiveSamples: number[]
  /** Loads that started without the machine getting quiet first (10 s at most). */
  noisyLoads: number
}

/** Loads the page `runs` times in a fresh context each and returns the median timings. */
export async function pageTimings(url: string, page: BenchPage, runs = 7): Promise<PageTimings> {
  const browser = await launchChromium()
  const samples: PageTiming[] = []
  let noisyLoads = 0
  try {
    for (let run = 0; run < runs + 1; run++) {
      const context = await browser.newContext({ viewport: PHONE })
      const tab = await context.newPage()
      await tab.addInitScript(() => {
        const w = window as unknown as { __lcp: number }
        w.__lcp = 0
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) w.__lcp = entry.startTime
        }).observe({ type: 'largest-contentful-paint', buffered: true })
      })
      if (QUIET && !(await waitForQuietCpu())) noisyLoads++
      // Only small promises are evaluated in the page while it loads: a locator's wait would
      // inject Playwright's selector engine (tens of ms on the main thread) into the load it
      // measures.
      await tab.goto(new URL(page.path, url).href, { waitUntil: 'commit' })
      const interactiveMs = await tab.evaluate<number>(HYDRATED_AT)
      const captchaMs = page.captcha ? await tab.evaluate<number>(CAPTCHA_SHOWN_AT) : null
      // LCP is final once the user could interact; a click makes Chromium report it.
      await tab.mouse.click(1, 1)
      const lcpMs = await tab.evaluate(() => (window as unknown as { __lcp: number }).__lcp)
      // The first load warms the server's caches and is not counted.
      if (run > 0) samples.push({ lcpMs, interactiveMs, captchaMs })
      await context.close()
    }
  } finally {
    await browser.close()
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
  return {
    interactiveSamples: samples.map((sample) => sample.interactiveMs),
    noisyLoads,
    lcpMs: median(samples.map((sample) => sample.lcpMs)),
    interactiveMs: median(samples.map((sample) => sample.interactiveMs)),
    captchaMs: page.captcha ? median(samples.map((sample) => sample.captchaMs ?? 0)) : null,
  }
}

export interface DownloadedScript {
  url: string
  /** Bytes on the wire for the body, as Chromium counts them (compressed if the server did). */
  transferBytes: number
  /** The script as the browser ran it, gzipped at level 9 (the same measure as firstLoadJs). */
  gzipBytes: number
}

/**
 * Cross-checks firstLoadJs in Chromium: every script response of one cold page load, until the
 * first captcha is shown (on a page without one, until it has hydrated), and the network is idle,
 * so anything fetched at hydration counts too.
 */
export async function downloadedScripts(url: string, page: BenchPage): Promise<DownloadedScript[]> {
  const browser = await launchChromium()
  try {
    const context = await browser.newContext({ viewport: PHONE })
    const tab = await context.newPage()
    const pending: Promise<DownloadedScript>[] = []
    tab.on('response', (response) => {
      if (response.request().resourceType() !== 'script') return
      pending.push(
        (async () => {
          const body = await response.body()
          const sizes = await response.request().sizes()
          return {
            url: new URL(response.url()).pathname,
            transferBytes: sizes.responseBodySize,
            gzipBytes: gzipSync(body, { level: 9 }).length,
          }
        })(),
      )
    })
    await tab.goto(new URL(page.path, url).href)
    if (page.captcha) await tab.getByTestId('captcha-image').waitFor()
    else await tab.evaluate<number>(HYDRATED_AT)
    await tab.waitForLoadState('networkidle')
    const scripts = await Promise.all(pending)
    await context.close()
    return scripts
  } finally {
    await browser.close()
  }
}
