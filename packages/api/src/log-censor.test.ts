import { pino } from 'pino'
import type { Logger } from 'pino'
import { describe, expect, it } from 'vitest'
import { CENSORED, censorLogFields, createCensoredLogger } from './log-censor.ts'

const options = { level: 'info', base: undefined, timestamp: false } as const

/** The redaction logger.ts configured before decision record 021, verbatim: the reference. */
const PINO_REDACT = {
  paths: ['password', 'imageCode', 'image_code', 'smsCode', 'smscode'].flatMap((field) => [
    field,
    `*.${field}`,
  ]),
  censor: '[redacted]',
}

function linesOf(create: (destination: { write(line: string): void }) => Logger) {
  const lines: string[] = []
  return { logger: create({ write: (line) => lines.push(line) }), lines }
}

/** The same calls through pino's redact and through the censor. */
function bothWays(log: (logger: Logger) => void): { redacted: string[]; censored: string[] } {
  const redacting = linesOf((destination) => pino({ ...options, redact: PINO_REDACT }, destination))
  const censoring = linesOf((destination) => createCensoredLogger(options, destination))
  log(redacting.logger)
  log(censoring.logger)
  return { redacted: redacting.lines, censored: censoring.lines }
}

class WithPrototypeSecret extends Error {}
// An inherited enumerable field: pino's err serializer copies it into the line.
Object.assign(WithPrototypeSecret.prototype, { password: 'secret-proto' })

class Account {
  constructor(
    readonly name: string,
    readonly password: string,
  ) {}
  toJSON() {
    return { name: this.name, password: this.password }
  }
}

function errorWith(fields: Record<string, unknown>): Error & Record<string, unknown> {
  return Object.assign(new Error('boom'), fields)
}

// Made once, so that both ways write the same stack.
const errors = {
  own: errorWith({ password: 'secret-e', code: 'E1' }),
  underErr: errorWith({ smscode: 'secret-e1', detail: { password: 'deep' } }),
  inherited: new WithPrototypeSecret('proto'),
  otherKey: errorWith({ imageCode: 'secret-e2' }),
}

const every = {
  password: 'secret-1',
  imageCode: 'secret-2',
  image_code: 'secret-3',
  smsCode: 'secret-4',
  smscode: 'secret-5',
}

/** Each case: what is logged, the values no line may hold and those it must still hold. */
const cases: { name: string; log: (logger: Logger) => void; hidden: string[]; shown: string[] }[] =
  [
    {
      name: 'every field at the top level',
      log: (logger) => logger.info({ mobile: '138****0000', ...every }, 'm'),
      hidden: Object.values(every),
      shown: ['138****0000'],
    },
    {
      name: 'every field one level down, under any key',
      log: (logger) => logger.info({ body: every, input: { smsCode: 'secret-6', ok: 'kept' } }),
      hidden: [...Object.values(every), 'secret-6'],
      shown: ['kept'],
    },
    {
      name: 'two levels down and in arrays: left as they are',
      log: (logger) =>
        logger.info({ a: { b: { password: 'deep' } }, list: [{ smsCode: 'element' }] }, 'm'),
      hidden: [],
      shown: ['deep', 'element'],
    },
    {
      name: "an array as the log object or as a message's value: its elements are one level down",
      log: (logger) => {
        logger.info([{ password: 'secret-a1', u: { password: 'deep-1' } }, 'str'])
        logger.info('%j', [
          { smsCode: 'secret-a2', u: { password: 'deep-2' } },
          [{ password: 'deep-3' }],
        ])
      },
      hidden: ['secret-a1', 'secret-a2'],
      shown: ['deep-1', 'deep-2', 'deep-3', 'str'],
    },
    {
      name: 'null, numbers and undefined, at both levels',
      log: (logger) =>
        logger.info({
          password: null,
          smsCode: 123456,
          imageCode: undefined,
          user: { password: null, smsCode: 654321, imageCode: undefined },
        }),
      hidden: ['123456', '654321'],
      shown: [],
    },
    {
      name: 'functions, non-enumerable and inherited fields one level down',
      log: (logger) =>
        logger.info({
          password: () => 'fn',
          hidden: Object.defineProperty({}, 'password', { value: 'secret-ne', enumerable: false }),
          inherited: Object.create({ password: 'secret-inherited' }) as object,
          fn: { smsCode: () => 'fn' },
        }),
      hidden: ['secret-ne', 'secret-inherited'],
      shown: [],
    },
    {
      name: 'an error as the log object, through the err serializer',
      log: (logger) => logger.error(errors.own),
      hidden: ['secret-e'],
      shown: ['E1', 'boom'],
    },
    {
      name: 'an error under err, one with an inherited field, and one under another key',
      log: (logger) => {
        logger.error({ err: errors.underErr }, 'm')
        logger.error({ err: errors.inherited }, 'm')
        logger.error({ cause: errors.otherKey }, 'm')
      },
      hidden: ['secret-e1', 'secret-proto', 'secret-e2'],
      shown: ['deep'],
    },
    {
      name: 'a class instance one level down, written by its toJSON',
      log: (logger) => logger.info({ account: new Account('ann', 'secret-a') }, 'm'),
      hidden: ['secret-a'],
      shown: ['ann'],
    },
    {
      name: "a child's bindings, a grandchild's and setBindings",
      log: (logger) => {
        const child = logger.child({
          reqId: 'r1',
          password: 'secret-b1',
          u: { smsCode: 'secret-b2' },
        })
        child.info({ image_code: 'secret-b3' }, 'child')
        child.child({}, { level: 'info' }).child({ imageCode: 'secret-b4' }).info('grandchild')
        child.setBindings({ smscode: 'secret-b5' })
        child.info('after setBindings')
      },
      hidden: ['secret-b1', 'secret-b2', 'secret-b3', 'secret-b4', 'secret-b5'],
      shown: ['r1'],
    },
    {
      name: "a message's %j, %o and %O values",
      log: (logger) => {
        logger.info('sent %j', { smsCode: 'secret-f1', to: { password: 'secret-f2' } })
        logger.info(
          { a: 1 },
          '%o and %O',
          { imageCode: 'secret-f3' },
          { u: { smscode: 'secret-f4' } },
        )
      },
      hidden: ['secret-f1', 'secret-f2', 'secret-f3', 'secret-f4'],
      shown: ['sent'],
    },
    {
      name: 'lines with nothing to censor',
      log: (logger) => {
        logger.info(
          { provider: 'console', mobile: '138****0000', ttlMinutes: 5, code: '123456' },
          'm',
        )
        logger.info({ at: new Date(0), tags: ['a'], nested: { ok: true } })
        logger.info(null, 'only a message')
        logger.warn('plain')
      },
      hidden: [],
      shown: ['123456', '1970-01-01T00:00:00.000Z', 'only a message', 'plain'],
    },
  ]

describe('createCensoredLogger against pino redact with the same fields', () => {
  it.each(cases)('$name: the same lines', ({ log, hidden, shown }) => {
    const { redacted, censored } = bothWays(log)
    expect(censored).toEqual(redacted)
    const written = censored.join('')
    for (const secret of hidden) expect(written).not.toContain(secret)
    for (const value of shown) expect(written).toContain(value)
    if (hidden.length > 0) expect(written).toContain(CENSORED)
  })
})

describe('censorLogFields', () => {
  it('gives back the very object when there is nothing to censor: no copy', () => {
    const fields = { reqId: 'r1', status: 200, nested: { ok: true }, list: [{ password: 'x' }] }
    expect(censorLogFields(fields)).toBe(fields)
    expect(censorLogFields('a message')).toBe('a message')
  })

  it("never changes the caller's object, nor one inside it", () => {
    const inner = Object.freeze({ password: 'secret', name: 'n' })
    const fields = Object.freeze({ smsCode: '123456', user: inner, other: { ok: true } })
    const censored = censorLogFields(fields)
    expect(censored).toEqual({
      smsCode: CENSORED,
      user: { password: CENSORED, name: 'n' },
      other: { ok: true },
    })
    expect(fields).toEqual({
      smsCode: '123456',
      user: { password: 'secret', name: 'n' },
      other: { ok: true },
    })
    // What was not censored is shared, not copied.
    expect(censored.other).toBe(fields.other)
  })

  it('keeps an error an error with its message and stack', () => {
    const error = errorWith({ password: 'secret' })
    const { err } = censorLogFields({ err: error })
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ message: 'boom', stack: error.stack, password: CENSORED })
    expect(error.password).toBe('secret')
  })
})
