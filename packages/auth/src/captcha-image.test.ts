import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32, inflateSync } from 'node:zlib'
import { createCanvas, Image } from '@napi-rs/canvas'
import { describe, it, expect } from 'vitest'
import {
  CAPTCHA_ALPHABET,
  CAPTCHA_HEIGHT,
  CAPTCHA_LENGTH,
  CAPTCHA_WIDTH,
  createCaptchaText,
  renderCaptchaPng,
} from './captcha-image.ts'

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

interface Chunk {
  type: string
  data: Buffer
  crcOk: boolean
}

function chunks(png: Buffer): Chunk[] {
  const found: Chunk[] = []
  for (let at = PNG_SIGNATURE.length; at < png.length;) {
    const length = png.readUInt32BE(at)
    const type = png.toString('latin1', at + 4, at + 8)
    const data = png.subarray(at + 8, at + 8 + length)
    const crcOk = crc32(png.subarray(at + 4, at + 8 + length)) === png.readUInt32BE(at + 8 + length)
    found.push({ type, data, crcOk })
    at += 12 + length
  }
  return found
}

/** Decodes with Skia's PNG codec, a decoder independent of the encoder under test. */
function decode(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  const image = new Image()
  image.src = png
  const canvas = createCanvas(image.width, image.height)
  const context = canvas.getContext('2d')
  context.drawImage(image, 0, 0)
  return { width: image.width, height: image.height, rgba: canvas.data() }
}

describe('CAPTCHA_ALPHABET', () => {
  it('has no look-alike characters', () => {
    for (const char of ['0', 'O', '1', 'I', 'l']) expect(CAPTCHA_ALPHABET).not.toContain(char)
  })

  it('has no duplicates, so every character is equally likely', () => {
    expect(new Set(CAPTCHA_ALPHABET).size).toBe(CAPTCHA_ALPHABET.length)
  })
})

describe('createCaptchaText', () => {
  it('makes CAPTCHA_LENGTH (4) characters of the alphabet', () => {
    const random = (max: number): number => Math.floor(Math.random() * max)
    expect(CAPTCHA_LENGTH).toBe(4)
    for (let i = 0; i < 200; i++) {
      const text = createCaptchaText(random)
      expect(text).toHaveLength(4)
      for (const char of text) expect(CAPTCHA_ALPHABET).toContain(char)
    }
  })

  it('takes every character from the given RNG, asking for the alphabet size', () => {
    const asked: number[] = []
    const script = [0, 1, CAPTCHA_ALPHABET.length - 1, 2]
    const text = createCaptchaText((max) => {
      asked.push(max)
      return script[asked.length - 1] ?? 0
    })
    expect(asked).toEqual([32, 32, 32, 32])
    expect(text).toBe(`AB${CAPTCHA_ALPHABET.at(-1)}C`)
  })

  it('refuses an RNG that answers outside the alphabet', () => {
    expect(() => createCaptchaText(() => CAPTCHA_ALPHABET.length)).toThrow(RangeError)
    expect(() => createCaptchaText(() => -1)).toThrow(RangeError)
    expect(() => createCaptchaText(() => 0.5)).toThrow(RangeError)
  })
})

describe('renderCaptchaPng', () => {
  it('returns a well-formed PNG of the advertised size', () => {
    const png = renderCaptchaPng('AB3K')
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE)
    expect(png.toString('latin1', 12, 16)).toBe('IHDR')
    expect(png.readUInt32BE(16)).toBe(CAPTCHA_WIDTH)
    expect(png.readUInt32BE(20)).toBe(CAPTCHA_HEIGHT)
    expect([CAPTCHA_WIDTH, CAPTCHA_HEIGHT]).toEqual([120, 40])

    const found = chunks(png)
    expect(found.map((chunk) => chunk.type)).toEqual(['IHDR', 'PLTE', 'IDAT', 'IEND'])
    expect(found.every((chunk) => chunk.crcOk)).toBe(true)
    const paletteSize = (found[1]?.data.length ?? 0) / 3
    const raw = inflateSync(found[2]?.data ?? Buffer.alloc(0))
    expect(raw).toHaveLength((CAPTCHA_WIDTH + 1) * CAPTCHA_HEIGHT)
    expect(Math.max(...raw)).toBeLessThan(paletteSize)
  })

  it('decodes in an independent decoder to a picture with dark glyph strokes', () => {
    const { width, height, rgba } = decode(renderCaptchaPng('WXYZ'))
    expect([width, height]).toEqual([CAPTCHA_WIDTH, CAPTCHA_HEIGHT])
    let dark = 0
    for (let at = 0; at < rgba.length; at += 4) {
      const luma = 0.3 * (rgba[at] ?? 0) + 0.59 * (rgba[at + 1] ?? 0) + 0.11 * (rgba[at + 2] ?? 0)
      if (luma < 110) dark++
    }
    // Four bold glyphs cover several hundred pixels; noise alone covers far fewer dark ones.
    expect(dark).toBeGreaterThan(300)
  })

  it('draws different texts differently', () => {
    const a = decode(renderCaptchaPng('AAAA')).rgba
    const b = decode(renderCaptchaPng('HJKM')).rgba
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
  })

  it('draws the same text differently every time, and earlier images stay intact', () => {
    const first = renderCaptchaPng('AB3K')
    const copy = Buffer.from(first)
    const second = renderCaptchaPng('AB3K')
    expect(second.equals(first)).toBe(false)
    // The renderer reuses its buffers: a returned image must not share them.
    expect(first.equals(copy)).toBe(true)
  })

  it('draws texts shorter than CAPTCHA_LENGTH', () => {
    expect(renderCaptchaPng('A').subarray(0, 8)).toEqual(PNG_SIGNATURE)
  })

  it('refuses empty, too long and non-alphabet texts', () => {
    expect(() => renderCaptchaPng('')).toThrow(RangeError)
    expect(() => renderCaptchaPng('ABCDE')).toThrow(RangeError)
    expect(() => renderCaptchaPng('AB0K')).toThrow(RangeError)
    expect(() => renderCaptchaPng('abck')).toThrow(RangeError)
  })

  it('writes a sample for a person to look at', () => {
    const path = join(tmpdir(), 'captcha-sample.png')
    const png = renderCaptchaPng(createCaptchaText((max) => Math.floor(Math.random() * max)))
    writeFileSync(path, png)
    expect(decode(png).width).toBe(CAPTCHA_WIDTH)
  })
})
