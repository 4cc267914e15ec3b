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

/** Sums the gzip size of every script the prerendered `/` loads, as the build wrote them. */
export async function firstLoadJs(): Promise<{
  files: number
  gzipBytes: number
  rawBytes: number
}> {
  const html = await readFile(path.join(WEB_DIR, '.next/server/app/index.html'), 'utf8')
  // noModule scripts are legacy polyfills that current browsers never download.
  const sources = [...html.matchAll(/<script([^>]+)>/g)]
    .filter((match) => !/nomodule/i.test(match[1] ?? ''))
    .map((match) => /src="(\/_next\/static\/[^"]+\.js)"/.exec(match[1] ?? '')?.[1])
    .filter((source): source is string => source !== undefined)
  let gzipBytes = 0
  let rawBytes = 0
  for (const source of new Set(sources)) {
    const file = await readFile(path.join(WEB_DIR, '.next', source.replace('/_next/', '')))
    rawBytes += file.length
    gzipBytes += gzipSync(file, { level: 9 }).length
  }
  return { files: new Set(sources).size, gzipBytes, rawBytes }
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
