// Run: cd packages/auth && pnpm exec tsx bench/captcha-image.bench.ts
import { randomInt } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createCanvas } from '@napi-rs/canvas'
import type { SKRSContext2D } from '@napi-rs/canvas'
import {
  CAPTCHA_HEIGHT as H,
  CAPTCHA_WIDTH as W,
  createCaptchaText,
  renderCaptchaPng,
} from '../src/captcha-image.ts'

const RENDERS = 2_000

// Texts are made up front so every figure is drawing and PNG encoding only.
const texts = Array.from({ length: RENDERS }, () => createCaptchaText(randomInt))

function measure(label: string, render: (text: string) => Buffer): void {
  let bytes = 0
  const start = performance.now()
  for (const text of texts) bytes += render(text).length
  const ms = performance.now() - start
  const perSecond = Math.round((RENDERS / ms) * 1000)
  const each = ((ms / RENDERS) * 1000).toFixed(0)
  const size = Math.round(bytes / RENDERS)
  console.log(`${label.padEnd(44)} ${perSecond} images/s (${each} µs each, ${size} B PNG)`)
}

// The first renders of a process also rasterise glyphs into the cache, so that figure comes first.
measure('renderCaptchaPng, fresh process', renderCaptchaPng)
for (let i = 0; i < 5 * RENDERS; i++) renderCaptchaPng(texts[i % RENDERS] ?? 'ABCD')
measure('renderCaptchaPng, glyph cache warm', renderCaptchaPng)

// Reference for docs/decisions/002: the same picture drawn by Skia and encoded by its PNG encoder.
const canvas = createCanvas(W, H)
const ctx = canvas.getContext('2d')
const hsl = (lightness: number): string => `hsl(${randomInt(360)}, 75%, ${lightness}%)`

function drawWithSkia(ctx: SKRSContext2D, text: string): void {
  ctx.setTransform(1, 0, 0, 1, 0, 0)
  ctx.fillStyle = hsl(93)
  ctx.fillRect(0, 0, W, H)
  for (let i = 0; i < 3; i++) {
    ctx.strokeStyle = hsl(50)
    ctx.beginPath()
    ctx.moveTo(0, Math.random() * H)
    ctx.bezierCurveTo(
      W / 3,
      Math.random() * H,
      (2 * W) / 3,
      Math.random() * H,
      W,
      Math.random() * H,
    )
    ctx.stroke()
  }
  ctx.font = 'bold 28px SignupCaptcha'
  ctx.textAlign = 'center'
  for (const [i, char] of [...text].entries()) {
    ctx.setTransform(1, 0, 0, 1, 8 + 26 * (i + 0.5), 20)
    ctx.rotate(Math.random() * 0.8 - 0.4)
    ctx.fillStyle = hsl(30)
    ctx.fillText(char, 0, 10)
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0)
  for (let i = 0; i < 40; i++) {
    ctx.fillStyle = hsl(60)
    ctx.fillRect(Math.random() * W, Math.random() * H, 2, 2)
  }
}

measure('reference: Skia, one canvas, encodeSync', (text) => {
  drawWithSkia(ctx, text)
  return canvas.encodeSync('png')
})
measure('reference: Skia, one canvas, toBuffer', (text) => {
  drawWithSkia(ctx, text)
  return canvas.toBuffer('image/png')
})
measure('reference: Skia, canvas per render, encodeSync', (text) => {
  const own = createCanvas(W, H)
  drawWithSkia(own.getContext('2d'), text)
  return own.encodeSync('png')
})
