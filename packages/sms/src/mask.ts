/** 13800001234 -> 138****1234: enough to tell numbers apart in a log, not enough to reuse them. */
export function maskMobile(mobile: string): string {
  if (mobile.length < 7) return '*'.repeat(mobile.length)
  return `${mobile.slice(0, 3)}****${mobile.slice(-4)}`
}
