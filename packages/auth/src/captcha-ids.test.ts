import { randomBytes, randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createCaptchaIds } from './captcha-ids.ts'
import { TEST_AUTH_SECRET } from './testing/test-services.ts'

const ids = createCaptchaIds(TEST_AUTH_SECRET, randomBytes)

describe('server-issued captcha ids', () => {
  it('are version 4 UUIDs, all different, and recognised as issued', () => {
    const issued = Array.from({ length: 200 }, () => ids.issue())
    expect(new Set(issued).size).toBe(200)
    for (const id of issued) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(ids.isServerIssued(id)).toBe(true)
    }
  })

  it('no id a client picks is taken for one: random UUIDs, edits of an issued id, other forms', () => {
    for (let i = 0; i < 1000; i++) expect(ids.isServerIssued(randomUUID())).toBe(false)
    const id = ids.issue()
    const flip = (at: number) => id.slice(0, at) + (id[at] === '0' ? '1' : '0') + id.slice(at + 1)
    for (const at of [0, 9, 15, 20, 35]) expect(ids.isServerIssued(flip(at))).toBe(false)
    for (const other of [id.toUpperCase(), `${id}0`, id.replaceAll('-', ''), 'abcdefgh', '']) {
      expect(ids.isServerIssued(other)).toBe(false)
    }
  })

  it('are bound to the key: another AUTH_SECRET does not recognise them', () => {
    const other = createCaptchaIds('another secret of at least 32 bytes!!', randomBytes)
    expect(other.isServerIssued(ids.issue())).toBe(false)
  })
})
