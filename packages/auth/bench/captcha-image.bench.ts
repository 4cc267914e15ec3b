// Run: cd packages/auth && pnpm exec tsx bench/captcha-image.bench.ts
import { randomInt } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createCaptchaText, renderCaptchaPng } from '../src/captcha-image.ts'

const RENDERS = 2_000
const WARMUP = 200

// Texts are made up front so the figure is rendering and PNG encoding only.
const texts = Array.from({ length: RENDERS }, () => createCaptchaText(randomInt))

for (let i = 0; i < WARMUP; i++) renderCaptchaPng(texts[i % RENDERS] ?? 'ABCD')

let bytes = 0
const start = performance.now()
for (const text of texts) bytes += renderCaptchaPng(text).length
const ms = performance.now() - start

const perSecond = Math.round((RENDERS / ms) * 1000)
console.log(
  `captcha-image: ${RENDERS} renders in ${ms.toFixed(0)} ms = ${perSecond} images/s ` +
    `(${((ms / RENDERS) * 1000).toFixed(0)} µs each, ${Math.round(bytes / RENDERS)} B average PNG)`,
)
