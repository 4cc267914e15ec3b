import { PNG } from 'pngjs'

const PNG_DATA_URL = 'data:image/png;base64,'

/** The PNG bytes of a `data:image/png;base64,...` URL, as auth.getImageCode answers. */
export function pngOfDataUrl(dataUrl: string): Buffer {
  if (!dataUrl.startsWith(PNG_DATA_URL)) throw new Error('the captcha is not a PNG data URL')
  return Buffer.from(dataUrl.slice(PNG_DATA_URL.length), 'base64')
}

/**
 * A PNG drawn with upper half blocks (▀) in 24-bit colour: each character shows two pixels, the
 * upper as foreground and the lower as background. Shrunk by whole steps to fit `maxColumns`;
 * transparency is laid over white.
 */
export function drawPng(png: Buffer, maxColumns = 80): string {
  const image = PNG.sync.read(png)
  const step = Math.max(1, Math.ceil(image.width / Math.max(1, maxColumns)))
  const columns = Math.floor(image.width / step)
  const rows = Math.floor(image.height / step)
  const lines: string[] = []
  for (let y = 0; y < rows; y += 2) {
    let line = ''
    for (let x = 0; x < columns; x++) {
      const upper = averageColour(image, x * step, y * step, step)
      // An odd last row has no lower pixel: the terminal's own background shows there.
      const lower = y + 1 < rows ? averageColour(image, x * step, (y + 1) * step, step) : null
      line += `\x1b[38;2;${upper.join(';')}m`
      line += lower ? `\x1b[48;2;${lower.join(';')}m▀` : '\x1b[49m▀'
    }
    lines.push(`${line}\x1b[0m`)
  }
  return `${lines.join('\n')}\n`
}

type Rgb = [number, number, number]

/** The mean colour of a step × step block, over white where the image is transparent. */
function averageColour(image: PNG, left: number, top: number, step: number): Rgb {
  const sum: Rgb = [0, 0, 0]
  for (let y = top; y < top + step; y++) {
    for (let x = left; x < left + step; x++) {
      const at = (y * image.width + x) * 4
      const alpha = (image.data[at + 3] ?? 255) / 255
      for (let c = 0; c < 3; c++) {
        sum[c] = (sum[c] ?? 0) + (image.data[at + c] ?? 0) * alpha + 255 * (1 - alpha)
      }
    }
  }
  const pixels = step * step
  return [Math.round(sum[0] / pixels), Math.round(sum[1] / pixels), Math.round(sum[2] / pixels)]
}
