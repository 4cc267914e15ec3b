import { randomInt } from 'node:crypto'

const MOBILE_SPACE = 1_000_000_000
// Coprime with MOBILE_SPACE, so the draws below visit every number before any repeats; 10,001
// moves the number range (the first 7 digits) and the last 4 digits on by one at each draw.
const MOBILE_STRIDE = 10_001
const firstMobile = randomInt(MOBILE_SPACE)
let mobilesDrawn = 0

/**
 * A mobile no earlier call in this process answered, valid for `^1[3-9]\d{9}$` however many are
 * drawn: `17` and nine digits taken modulo 10^9, so no count can make it longer, and it throws
 * rather than repeat after 10^9 draws. No hand-written mobile in the tests starts with 17, so a
 * drawn one never meets a test number or a fake's special mobile. The start is random, so that
 * processes sharing a server (the browser tests' workers) don't meet either, and consecutive
 * draws fall in different number ranges, so SMS_LIMIT_PREFIX_HOUR never bites by accident.
 */
export function freshMobile(): string {
  if (mobilesDrawn >= MOBILE_SPACE) throw new Error('freshMobile: every 17x mobile was drawn')
  const n = (firstMobile + mobilesDrawn * MOBILE_STRIDE) % MOBILE_SPACE
  mobilesDrawn += 1
  return `17${String(n).padStart(9, '0')}`
}

const drawnInRange = new Map<string, number>()

/**
 * A mobile of the 7-digit number range `range` (the per-range limit's key) that no earlier call
 * answered: its last 4 digits count up from 0000. A range has 10,000, and the 10,001st call
 * throws instead of answering a 12-digit number.
 */
export function freshMobileIn(range: string): string {
  if (!/^1[3-9]\d{5}$/.test(range)) throw new Error(`freshMobileIn: ${range} is not a number range`)
  const drawn = drawnInRange.get(range) ?? 0
  if (drawn >= 10_000) throw new Error(`freshMobileIn: range ${range} has no fresh mobile left`)
  drawnInRange.set(range, drawn + 1)
  return `${range}${String(drawn).padStart(4, '0')}`
}
