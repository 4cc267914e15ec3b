import { randomInt } from 'node:crypto'

/** 10^9: the numbers after a mobile's first two digits. */
const SPAN = 1_000_000_000
/** Coprime to 10^9 (odd, not a multiple of 5), so the walk below meets every number once. */
const STRIDE = 123_456_791

const second = String(randomInt(3, 10))
let value = randomInt(SPAN)
let walked = 0
const nextInRange = new Map<string, number>()
const handedOut = new Set<string>()

/**
 * A valid mainland mobile (`^1[3-9]\d{9}$`, docs/contract.md section 6) that this process has not
 * handed out before. A random start and a stride coprime to 10^9 walk every number of the block
 * once, so nothing overflows into an invalid number; consecutive numbers differ in their first
 * seven digits, so the per-range send limit does not bite a test that did not ask for it. With
 * `range` (seven digits), the next unused number of that range, for tests of the per-range limit.
 * Throws rather than repeat a number once there is none left.
 */
export function freshMobile(range?: string): string {
  for (;;) {
    const mobile = range === undefined ? nextWalked() : nextOf(range)
    if (!handedOut.has(mobile)) {
      handedOut.add(mobile)
      return mobile
    }
  }
}

function nextWalked(): string {
  if (walked++ >= SPAN) throw new RangeError('every mobile of the block has been handed out')
  value = (value + STRIDE) % SPAN
  return `1${second}${String(value).padStart(9, '0')}`
}

function nextOf(range: string): string {
  if (!/^1[3-9]\d{5}$/.test(range)) throw new RangeError(`${range} is not a 7-digit range`)
  const next = nextInRange.get(range) ?? 0
  if (next >= 10_000) throw new RangeError(`range ${range} has no unused numbers left`)
  nextInRange.set(range, next + 1)
  return `${range}${String(next).padStart(4, '0')}`
}
