import { describe, expect, it } from 'vitest'
import { createConsoleSender } from './console-sender.ts'
import { maskMobile } from './log-fields.ts'

function recordingLogger() {
  const lines: { fields: Record<string, unknown>; message: string }[] = []
  return {
    lines,
    info: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }),
    warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }),
  }
}

describe('console sender', () => {
  it('logs the masked mobile and, outside production, the code', async () => {
    const logger = recordingLogger()
    await createConsoleSender({ logger, production: false }).sendCode({
      mobile: '13800001234',
      code: '012345',
      ttlMinutes: 5,
    })
    expect(logger.lines).toHaveLength(1)
    expect(logger.lines[0]?.fields).toMatchObject({ mobile: '138****1234', code: '012345' })
    expect(JSON.stringify(logger.lines)).not.toContain('13800001234')
  })

  it('never logs the code in production', async () => {
    const logger = recordingLogger()
    await createConsoleSender({ logger, production: true }).sendCode({
      mobile: '13800001234',
      code: '987654',
      ttlMinutes: 5,
    })
    expect(JSON.stringify(logger.lines)).not.toContain('987654')
    expect(logger.lines[0]?.fields.mobile).toBe('138****1234')
  })
})

describe('maskMobile', () => {
  it('keeps the first three and last four digits', () => {
    expect(maskMobile('13800000000')).toBe('138****0000')
    expect(maskMobile('123')).toBe('***')
  })
})
