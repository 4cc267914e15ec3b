// The signup page's weight and speed: first-load JavaScript of `/` from the production build,
// and largest contentful paint and time to interactive measured in Chromium.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium } from 'playwright-core'
import { WEB_DIR } from '@signup/web/test-server'

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/**
 * Sums the gzip size of every script the prerendered `/` makes the browser download, as the build
 * wrote them: each `<script src>` (the pages router's runtime, framework, shared and page chunks
 * and its build manifests) and each script the HTML preloads. `noModule` scripts are legacy
 * polyfills that current browsers never download.
 */
export async function firstLoadJs(): Promise<{
  files: number
  gzipBytes: number
  rawBytes: number
  perFile: { file: string; gzipBytes: number; rawBytes: number }[]
}> {
  const html = await readFile(path.join(WEB_DIR, '.next/server/pages/index.html'), 'utf8')
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
  /** Navigation start until React has hydrated the form (its handlers answer input). */
  interactiveMs: number
  /** Navigation start until the first captcha is shown (hydrated, and the API answered). */
  captchaMs: number
}

/** Loads the page `runs` times in a fresh context each and returns the median timings. */
export async function pageTimings(url: string, runs = 7): Promise<PageTiming> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  })
  const samples: PageTiming[] = []
  try {
    for (let run = 0; run < runs + 1; run++) {
      const context = await browser.newContext({ viewport: { width: 375, height: 740 } })
      const page = await context.newPage()
      await page.addInitScript(() => {
        const w = window as unknown as { __lcp: number }
        w.__lcp = 0
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) w.__lcp = entry.startTime
        }).observe({ type: 'largest-contentful-paint', buffered: true })
      })
      await page.goto(url)
      await page.getByTestId('captcha-image').waitFor()
      const captchaMs = await page.evaluate(() => performance.now())
      const interactiveMs = await page.evaluate(
        () => performance.getEntriesByName('signup:hydrated')[0]?.startTime ?? Number.NaN,
      )
      // LCP is final once the user could interact; a click makes Chromium report it.
      await page.mouse.click(1, 1)
      const lcpMs = await page.evaluate(() => (window as unknown as { __lcp: number }).__lcp)
      // The first load warms the server's caches and is not counted.
      if (run > 0) samples.push({ lcpMs, interactiveMs, captchaMs })
      await context.close()
    }
  } finally {
    await browser.close()
  }
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
  return {
    lcpMs: median(samples.map((sample) => sample.lcpMs)),
    interactiveMs: median(samples.map((sample) => sample.interactiveMs)),
    captchaMs: median(samples.map((sample) => sample.captchaMs)),
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
 * first captcha is shown (so anything fetched at hydration counts too).
 */
export async function downloadedScripts(url: string): Promise<DownloadedScript[]> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  })
  try {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 } })
    const page = await context.newPage()
    const pending: Promise<DownloadedScript>[] = []
    page.on('response', (response) => {
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
    await page.goto(url)
    await page.getByTestId('captcha-image').waitFor()
    await page.waitForLoadState('networkidle')
    const scripts = await Promise.all(pending)
    await context.close()
    return scripts
  } finally {
    await browser.close()
  }
}
