import { defineConfig, devices } from '@playwright/test'
import { chromiumLaunchOptions } from '@signup/chromium'

/**
 * Browser tests against the production build, in Debian's Chromium (never a downloaded browser),
 * with real Redis and Postgres. e2e/global-setup.ts starts the server once for all tests.
 */
export default defineConfig({
  testDir: './e2e',
  outputDir: '../../.test-results/playwright',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  forbidOnly: Boolean(process.env.CI),
  globalSetup: './e2e/global-setup.ts',
  reporter: [['list'], ['json', { outputFile: '../../.test-results/playwright.json' }]],
  use: {
    ...devices['Desktop Chrome'],
    headless: true,
    locale: 'zh-CN',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    // The workspace's one Chromium launch (tooling/chromium): CHROMIUM_PATH, the switches.
    launchOptions: chromiumLaunchOptions(),
  },
})
