import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The ids of the captchas the server issues (auth.getImageCode), told apart from the ids legacy
 * clients choose (docs/http-api.md, The captcha id space). Both surfaces keep a captcha under
 * ImageCode_<id>, the original's key; the legacy route refuses an id the server issued, so it can
 * never replace that captcha's answer.
 */
export interface CaptchaIds {
  /** A new id: a UUID (version 4 form) whose second half is a MAC of its first. */
  issue(): string
  /** Whether this exact id is one `issue` made: its MAC verifies under this server's key. */
  isServerIssued(id: string): boolean
}

const SERVER_ID = /^([0-9a-f]{8})-([0-9a-f]{4})-(4[0-9a-f]{3})-([89ab][0-9a-f]{3})-([0-9a-f]{12})$/

/**
 * Ids signed with a key derived from AUTH_SECRET. The first 8 bytes are random (60 bits, the
 * version nibble fixed), the last 8 the first bytes of HMAC-SHA256 over them (62 bits, the variant
 * bits fixed): a client cannot make an id that verifies without the key, so no id a legacy client
 * picks is ever refused by chance (one in 2^62), and the server's cannot be claimed by one.
 */
export function createCaptchaIds(
  secret: string,
  randomBytes: (size: number) => Buffer,
): CaptchaIds {
  // A key of its own, so a captcha id's MAC can never stand for a sealed code's (017).
  const key = createHmac('sha256', secret).update('captcha-id').digest()
  const tagOf = (head: Buffer): Buffer => {
    const tag = createHmac('sha256', key).update(head).digest().subarray(0, 8)
    tag[0] = ((tag[0] ?? 0) & 0x3f) | 0x80
    return tag
  }
  return {
    issue() {
      const head = Buffer.from(randomBytes(8))
      head[6] = ((head[6] ?? 0) & 0x0f) | 0x40
      const hex = Buffer.concat([head, tagOf(head)]).toString('hex')
      return [
        hex.slice(0, 8),
        hex.slice(8, 12),
        hex.slice(12, 16),
        hex.slice(16, 20),
        hex.slice(20),
      ].join('-')
    },
    isServerIssued(id) {
      if (!SERVER_ID.test(id)) return false
      const bytes = Buffer.from(id.replaceAll('-', ''), 'hex')
      return timingSafeEqual(bytes.subarray(8), tagOf(bytes.subarray(0, 8)))
    },
  }
}
