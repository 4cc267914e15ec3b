// What a log line may carry of a message, a mobile or an error.
/** 13800001234 -> 138****1234: enough to tell numbers apart in a log, not enough to reuse them. */
export function maskMobile(mobile: string): string {
  if (mobile.length < 7) return '*'.repeat(mobile.length)
  return `${mobile.slice(0, 3)}****${mobile.slice(-4)}`
}

/**
 * A provider's own text, fit for a log line: the mobile masked wherever it appears (bare or in
 * +86 form), the code removed, whitespace folded and the length capped.
 */
export function redactProviderText(
  text: string,
  message: { mobile: string; code: string },
  maxLength = 300,
): string {
  let safe = text.replace(/\s+/g, ' ').trim()
  if (message.mobile.length >= 7) safe = safe.replaceAll(message.mobile, maskMobile(message.mobile))
  if (message.code.length >= 4) safe = safe.replaceAll(message.code, '[code]')
  return safe.length > maxLength ? `${safe.slice(0, maxLength)}…` : safe
}

/** An error as one short log field: its name and message, or what a thrown non-error says. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
