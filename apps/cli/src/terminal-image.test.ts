import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import { drawPng, pngOfDataUrl } from './terminal-image.ts'

/** A PNG of the given size whose pixel colour is pick(x, y) (RGBA). */
function png(width: number, height: number, pick: (x: number, y: number) => number[]): Buffer {
  const image = new PNG({ width, height })
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) image.data.set(pick(x, y), (y * width + x) * 4)
  }
  return PNG.sync.write(image)
}

const RED = [255, 0, 0, 255]
const BLUE = [0, 0, 255, 255]
const ESC = '\x1b'

describe('drawPng', () => {
  it('shows two pixel rows per line: the upper as foreground, the lower as background', () => {
    const image = png(2, 2, (x, y) => (y === 0 ? RED : x === 0 ? BLUE : [0, 255, 0, 255]))
    expect(drawPng(image)).toBe(
      `${ESC}[38;2;255;0;0m${ESC}[48;2;0;0;255m▀` +
        `${ESC}[38;2;255;0;0m${ESC}[48;2;0;255;0m▀${ESC}[0m\n`,
    )
  })

  it('an odd last row keeps the terminal background below', () => {
    const drawing = drawPng(png(1, 3, () => RED))
    expect(drawing.split('\n')[1]).toBe(`${ESC}[38;2;255;0;0m${ESC}[49m▀${ESC}[0m`)
  })

  it('lays transparency over white', () => {
    expect(drawPng(png(1, 2, () => [0, 0, 0, 0]))).toContain('38;2;255;255;255m')
  })

  it('shrinks by whole steps to fit the columns, averaging each block', () => {
    // The captcha's size: 120 × 40 in a terminal of 80 columns is drawn at 60 × 20 pixels.
    const drawing = drawPng(
      png(120, 40, (x) => (x % 2 === 0 ? RED : BLUE)),
      80,
    )
    const lines = drawing.trimEnd().split('\n')
    expect(lines).toHaveLength(10)
    for (const line of lines) expect([...line.matchAll(/▀/g)]).toHaveLength(60)
    expect(drawing).toContain('38;2;128;0;128m')
    expect(
      drawPng(
        png(120, 40, () => RED),
        200,
      )
        .trimEnd()
        .split('\n'),
    ).toHaveLength(20)
  })
})

describe('pngOfDataUrl', () => {
  it('decodes a PNG data URL and refuses anything else', () => {
    const bytes = png(1, 1, () => RED)
    expect(pngOfDataUrl(`data:image/png;base64,${bytes.toString('base64')}`)).toEqual(bytes)
    expect(() => pngOfDataUrl('data:image/gif;base64,AAAA')).toThrow('not a PNG data URL')
  })
})
