import { pino } from 'pino'
import type { DestinationStream, Logger, LoggerOptions } from 'pino'

/** Field names that never belong in a log line, whoever writes them. */
export const CENSORED_FIELDS = [
  'password',
  'imageCode',
  'image_code',
  'smsCode',
  'smscode',
] as const

/** What a censored field's value is written as. */
export const CENSORED = '[redacted]'

const censoredNames = new Set<string>(CENSORED_FIELDS)
const { hasOwn } = Object
const isOwnEnumerable = (value: object, key: string) =>
  Object.prototype.propertyIsEnumerable.call(value, key)

/**
 * The guarantee pino's `redact` gave with the paths `field` and `*.field` (decision record 021):
 * a censored field of the object, or of an object one level down, is written as CENSORED. Deeper
 * fields and the elements of an array one level down are left alone, as `*.field` left them. The
 * object is never changed: a copy is made when a field is found, and none when there is nothing to
 * censor.
 */
export function censorLogFields<T>(fields: T): T {
  if (typeof fields !== 'object' || fields === null) return fields
  let replaced: [string, unknown][] | undefined
  for (const key in fields) {
    if (!hasOwn(fields, key)) continue
    const value: unknown = fields[key]
    const censored = censoredNames.has(key) ? censorValue(value) : censorOwnFields(value)
    if (censored !== value) (replaced ??= []).push([key, censored])
  }
  return replaced ? copyWith(fields, replaced) : fields
}

/** pino writes neither an undefined value nor a function, and redact left them so. */
function censorValue(value: unknown): unknown {
  return value === undefined || typeof value === 'function' ? value : CENSORED
}

/** The `*.field` level: an object's own censored fields, whatever their values. */
function censorOwnFields<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  let replaced: [string, unknown][] | undefined
  for (const field of CENSORED_FIELDS) {
    if (isOwnEnumerable(value, field)) (replaced ??= []).push([field, CENSORED])
  }
  return replaced ? copyWith(value, replaced) : value
}

/**
 * A copy with the same prototype and own properties, non-enumerable ones too: an Error stays an
 * Error with its message and stack for pino's err serializer, a class keeps its toJSON.
 */
function copyWith<T extends object>(value: T, replaced: [string, unknown][]): T {
  if (Array.isArray(value)) {
    const copy: unknown[] = value.slice()
    for (const [index, replacement] of replaced) copy[Number(index)] = replacement
    return copy as T
  }
  const properties: PropertyDescriptorMap = Object.getOwnPropertyDescriptors(value)
  for (const [key, replacement] of replaced) {
    properties[key] = { value: replacement, enumerable: true, writable: true, configurable: true }
  }
  return Object.create(Object.getPrototypeOf(value) as object | null, properties) as T
}

/**
 * A pino logger whose every line is censored as `redact` did, at a fraction of its cost: redact
 * copied every object it wrote; this copies only one that holds a censored field. Every way a
 * caller's object reaches a line is covered: the log object (`formatters.log`, which also sees a
 * mixin's fields), what the err serializer makes of an error, a child's bindings and setBindings
 * (pino applies `formatters.bindings` to the root's own bindings only), and the values a
 * message's %o, %O and %j write.
 */
export function createCensoredLogger(
  options: Omit<LoggerOptions, 'redact' | 'formatters' | 'serializers' | 'hooks'>,
  destination?: DestinationStream,
): Logger {
  const censoredOptions: LoggerOptions = {
    ...options,
    formatters: { log: censorLogFields },
    // pino's redact saw the error as its serializer wrote it, own and inherited fields alike.
    serializers: {
      err: (error: unknown) => censorOwnFields(pino.stdSerializers.err(error as Error)),
    },
    hooks: {
      logMethod(args, method) {
        // The first argument is the log object or the message; the rest are the message's values.
        for (let i = 1; i < args.length; i++) args[i] = censorLogFields(args[i])
        method.apply(this, args)
      },
    },
  }
  const logger = destination ? pino(censoredOptions, destination) : pino(censoredOptions)
  // Children are made from the root by prototype, so they inherit these two as well; each is
  // called with the logger it is called on, a child's child included.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const { child, setBindings } = logger
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, censorLogFields(bindings), childOptions)
  } as Logger['child']
  logger.setBindings = function (this: Logger, bindings) {
    setBindings.call(this, censorLogFields(bindings))
  }
  return logger
}
