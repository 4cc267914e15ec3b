import { createRequire } from 'node:module'
import { constants, crc32, deflateSync } from 'node:zlib'
import { createCanvas, GlobalFonts } from '@napi-rs/canvas'

/** 32 capitals and digits without look-alikes: no 0/O and no 1/I (l never shows: all capitals). */
export const CAPTCHA_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'
export const CAPTCHA_LENGTH = 4

export const CAPTCHA_WIDTH = 120
export const CAPTCHA_HEIGHT = 40

/** Picks CAPTCHA_LENGTH characters of CAPTCHA_ALPHABET; pass crypto.randomInt in production. */
export function createCaptchaText(randomInt: (maxExclusive: number) => number): string {
  let text = ''
  for (let i = 0; i < CAPTCHA_LENGTH; i++) {
    const index = randomInt(CAPTCHA_ALPHABET.length)
    const char = CAPTCHA_ALPHABET[index]
    // A broken RNG must fail loudly, not yield a shorter or guessable answer.
    if (!Number.isInteger(index) || char === undefined) {
      throw new RangeError(`randomInt returned ${index}, outside 0..${CAPTCHA_ALPHABET.length - 1}`)
    }
    text += char
  }
  return text
}

// The image is drawn in JS into palette indices and only the glyph shapes come from Skia, once
// each: Skia drawing plus its PNG encoder cost ~0.5 ms an image (docs/decisions/002).

// A family name no OS installs, so text never silently falls back to a system font.
const FONT_FAMILY = 'SignupCaptcha'
const FONT_FILE =
  '@fontsource/atkinson-hyperlegible/files/atkinson-hyperlegible-latin-700-normal.woff2'

const fontPath = createRequire(import.meta.url).resolve(FONT_FILE)
if (!GlobalFonts.has(FONT_FAMILY) && GlobalFonts.registerFromPath(fontPath, FONT_FAMILY) === null) {
  throw new Error(`captcha font could not be loaded from ${fontPath}`)
}

const W = CAPTCHA_WIDTH
const H = CAPTCHA_HEIGHT
/** A scanline is PNG's filter byte (0: none) and then one palette index per pixel. */
const STRIDE = W + 1

/** Coverage steps per colour: 15 partial-to-full levels (plus background) look fully smooth. */
const LEVELS = 15
/** Palette: index 0 is the background, then per layer LEVELS blends of its colour over a base. */
const LAYER = { backCurve: 0, glyph: 2, frontCurve: 6, dot: 7, frontOverGlyph: 9 } as const
const LAYER_COUNT = 13
const LEVEL_OF = Uint8Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : ((i - 1) % LEVELS) + 1))
const LAYER_OF = Int8Array.from({ length: 256 }, (_, i) =>
  i === 0 ? -1 : Math.floor((i - 1) / LEVELS),
)

const GLYPH_SIZES = [25, 27, 29] as const
const ANGLE_STEPS = 17
const MAX_ANGLE = 0.35

type Rgb = readonly [number, number, number]

interface GlyphMask {
  /** Offset of the mask's top-left pixel from the glyph's centre. */
  left: number
  top: number
  width: number
  height: number
  /** Coverage 0..LEVELS per pixel, row by row. */
  levels: Uint8Array
}

const MASK_BOX = 48
const maskCanvas = createCanvas(MASK_BOX, MASK_BOX)
const maskCtx = maskCanvas.getContext('2d')
// Bounded by alphabet x sizes x angles (~1,600 masks, ~2 MB), so the cache needs no eviction.
const masks = new Map<string, GlyphMask>()

// Reused across renders: the function is synchronous, so no two renders can interleave on them.
const pixels = new Uint8Array(STRIDE * H)
const glyphColours: Rgb[] = []
const palette = Buffer.alloc(3 * (1 + LAYER_COUNT * LEVELS))

/** PNG of 1 to CAPTCHA_LENGTH alphabet characters, rotated, offset and noisy: never twice alike. */
export function renderCaptchaPng(text: string): Buffer {
  const chars = [...text]
  // Only alphabet characters: that keeps the glyph cache bounded and every glyph in the font.
  if (chars.length === 0 || chars.length > CAPTCHA_LENGTH || !chars.every(isAlphabetChar)) {
    throw new RangeError(`captcha text must be 1 to ${CAPTCHA_LENGTH} of CAPTCHA_ALPHABET`)
  }
  // Layout and colours need no unpredictability, so the cheap PRNG is enough here.
  const background = hslToRgb(Math.random() * 360, 0.7, 0.93)
  setColour(0, background, background, LEVELS)
  pixels.fill(0)
  glyphColours.length = 0

  for (let i = 0; i < 2; i++) {
    setLayer(LAYER.backCurve + i, randomColour(0.55), background)
    drawCurve(LAYER.backCurve + i, 0.75)
  }
  const margin = 10
  const cell = (W - 2 * margin) / chars.length
  for (const [i, char] of chars.entries()) {
    const colour = darkColour()
    setLayer(LAYER.glyph + i, colour, background)
    glyphColours[i] = colour
    const x = Math.round(margin + cell * (i + 0.5) + jitter(2))
    const y = Math.round(H / 2 + jitter(2.5))
    drawGlyph(LAYER.glyph + i, glyphMask(char, pick(GLYPH_SIZES), randomAngleStep()), x, y)
  }
  // A thinner curve over the glyphs ties them together against naive segmentation.
  const front = randomColour(0.45)
  setLayer(LAYER.frontCurve, front, background)
  // Where it crosses a glyph it is blended over that glyph's colour, not the background.
  for (const [i, colour] of glyphColours.entries()) {
    setLayer(LAYER.frontOverGlyph + i, front, colour)
  }
  drawCurve(LAYER.frontCurve, 0.5)
  for (let i = 0; i < 2; i++) setLayer(LAYER.dot + i, randomColour(0.6), background)
  drawDots(30)

  return encodePng()
}

/** Paints one pixel unless what is there covers it more; a strong stroke always goes on top. */
function paint(x: number, y: number, layer: number, level: number): void {
  const at = y * STRIDE + 1 + x
  const current = pixels[at] ?? 0
  const under = LAYER_OF[current] ?? -1
  const underLevel = LEVEL_OF[current] ?? 0
  const isGlyph = under >= LAYER.glyph && under < LAYER.frontCurve
  if (layer === LAYER.frontCurve && isGlyph && underLevel * 2 >= LEVELS) {
    // Over a glyph's core the front curve takes the palette's mix with that glyph's colour.
    pixels[at] = paletteIndex(LAYER.frontOverGlyph + under - LAYER.glyph, level)
  } else if (level >= underLevel || level * 2 >= LEVELS) {
    pixels[at] = paletteIndex(layer, level)
  }
}

function paletteIndex(layer: number, level: number): number {
  return 1 + layer * LEVELS + level - 1
}

function drawGlyph(layer: number, mask: GlyphMask, cx: number, cy: number): void {
  let at = 0
  for (let row = 0; row < mask.height; row++) {
    const y = cy + mask.top + row
    for (let col = 0; col < mask.width; col++, at++) {
      const level = mask.levels[at] ?? 0
      const x = cx + mask.left + col
      if (level > 0 && x >= 0 && x < W && y >= 0 && y < H) paint(x, y, layer, level)
    }
  }
}

/** A cubic Bezier across the image; each column covers the rows its stroke overlaps, exactly. */
function drawCurve(layer: number, halfWidth: number): void {
  const y0 = Math.random() * H
  const y1 = Math.random() * H
  const y2 = Math.random() * H
  const y3 = Math.random() * H
  for (let x = 0; x < W; x++) {
    const t = (x + 0.5) / W
    const u = 1 - t
    const y = u * u * u * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y3
    const slope = (3 * u * u * (y1 - y0) + 6 * u * t * (y2 - y1) + 3 * t * t * (y3 - y2)) / W
    // A sloped stroke is thicker when cut vertically.
    const half = halfWidth * Math.sqrt(1 + slope * slope)
    const top = y - half
    const bottom = y + half
    const last = Math.min(H - 1, Math.floor(bottom))
    for (let row = Math.max(0, Math.floor(top)); row <= last; row++) {
      const overlap = Math.min(row + 1, bottom) - Math.max(row, top)
      const level = Math.round(Math.min(1, overlap) * LEVELS)
      if (level > 0) paint(x, row, layer, level)
    }
  }
}

const DOT_SHAPE = [
  [0, 0],
  [1, 0],
  [0, 1],
  [1, 1],
] as const

function drawDots(count: number): void {
  for (let i = 0; i < count; i++) {
    const x = Math.floor(Math.random() * (W - 1))
    const y = Math.floor(Math.random() * (H - 1))
    const layer = LAYER.dot + (i & 1)
    for (const [dx, dy] of DOT_SHAPE) paint(x + dx, y + dy, layer, LEVELS)
  }
}

/** Skia rasterises each character, size and angle once; later renders copy the cached coverage. */
function glyphMask(char: string, size: number, angleStep: number): GlyphMask {
  const key = `${char}|${size}|${angleStep}`
  const cached = masks.get(key)
  if (cached !== undefined) return cached

  const centre = MASK_BOX / 2
  maskCtx.setTransform(1, 0, 0, 1, 0, 0)
  maskCtx.clearRect(0, 0, MASK_BOX, MASK_BOX)
  maskCtx.setTransform(1, 0, 0, 1, centre, centre)
  maskCtx.rotate(((angleStep / (ANGLE_STEPS - 1)) * 2 - 1) * MAX_ANGLE)
  maskCtx.lang = 'en'
  maskCtx.font = `bold ${size}px ${FONT_FAMILY}`
  maskCtx.textAlign = 'center'
  maskCtx.textBaseline = 'alphabetic'
  maskCtx.fillStyle = '#000'
  // Alphabetic baseline shifted by about half the cap height centres capitals and digits.
  maskCtx.fillText(char, 0, size * 0.35)
  const rgba = maskCanvas.data()

  let minX = MASK_BOX
  let minY = MASK_BOX
  let maxX = -1
  let maxY = -1
  for (let y = 0; y < MASK_BOX; y++) {
    for (let x = 0; x < MASK_BOX; x++) {
      if ((rgba[(y * MASK_BOX + x) * 4 + 3] ?? 0) === 0) continue
      minX = Math.min(minX, x)
      maxX = Math.max(maxX, x)
      minY = Math.min(minY, y)
      maxY = Math.max(maxY, y)
    }
  }
  const width = Math.max(0, maxX - minX + 1)
  const height = Math.max(0, maxY - minY + 1)
  const levels = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const alpha = rgba[((minY + y) * MASK_BOX + minX + x) * 4 + 3] ?? 0
      levels[y * width + x] = Math.round((alpha * LEVELS) / 255)
    }
  }
  const mask = { left: minX - centre, top: minY - centre, width, height, levels }
  masks.set(key, mask)
  return mask
}

/** Fills a layer's LEVELS palette entries with its colour blended over a base colour. */
function setLayer(layer: number, colour: Rgb, base: Rgb): void {
  for (let level = 1; level <= LEVELS; level++) {
    setColour(paletteIndex(layer, level), colour, base, level)
  }
}

function setColour(index: number, colour: Rgb, base: Rgb, level: number): void {
  for (let channel = 0; channel < 3; channel++) {
    const over = colour[channel] ?? 0
    const under = base[channel] ?? 0
    palette[index * 3 + channel] = Math.round(under + ((over - under) * level) / LEVELS)
  }
}

function randomColour(lightness: number): Rgb {
  return hslToRgb(Math.random() * 360, 0.75, lightness)
}

/** A glyph colour of any hue, darkened until it stands out on the pale background (yellows and
 * greens at the same HSL lightness are much brighter to the eye than blues). */
function darkColour(): Rgb {
  const hue = Math.random() * 360
  let lightness = 0.3
  let colour = hslToRgb(hue, 0.75, lightness)
  while (luma(colour) > 90 && lightness > 0.1) {
    lightness -= 0.03
    colour = hslToRgb(hue, 0.75, lightness)
  }
  return colour
}

function luma(colour: Rgb): number {
  return 0.3 * (colour[0] ?? 0) + 0.59 * (colour[1] ?? 0) + 0.11 * (colour[2] ?? 0)
}

function hslToRgb(hue: number, saturation: number, lightness: number): Rgb {
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation
  const channel = (n: number): number => {
    const k = (n + hue / 30) % 12
    return Math.round(255 * (lightness - (chroma / 2) * Math.max(-1, Math.min(k - 3, 9 - k, 1))))
  }
  return [channel(0), channel(8), channel(4)]
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
const IHDR = Buffer.alloc(13)
IHDR.writeUInt32BE(W, 0)
IHDR.writeUInt32BE(H, 4)
IHDR[8] = 8 // bits per palette index
IHDR[9] = 3 // colour type: indexed
const HEADER = Buffer.concat([PNG_SIGNATURE, chunk('IHDR', IHDR)])
const TRAILER = chunk('IEND', Buffer.alloc(0))

function encodePng(): Buffer {
  return Buffer.concat([
    HEADER,
    chunk('PLTE', palette),
    chunk('IDAT', deflateSync(pixels, { strategy: constants.Z_RLE })),
    TRAILER,
  ])
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  out.set(data, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

function isAlphabetChar(char: string): boolean {
  return char.length === 1 && CAPTCHA_ALPHABET.includes(char)
}

function randomAngleStep(): number {
  return Math.floor(Math.random() * ANGLE_STEPS)
}

function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)]
  if (item === undefined) throw new RangeError('pick from an empty list')
  return item
}

function jitter(amplitude: number): number {
  return (Math.random() * 2 - 1) * amplitude
}
