import nodeCrypto from 'node:crypto'
import timers from 'node:timers'

/**
 * Next's server, when it prepares, patches process-wide functions for features this app does not
 * use in production: prerendering with cache components (Date, Math.random and the crypto randoms
 * report "I/O" to it), the app router's staged rendering (setImmediate and process.nextTick are
 * wrapped), its unhandled-rejection filter (process.on and kin) and console dimming. Every one of
 * them runs on the API's requests too: the nextTick wrapper alone was about 2% of a send's profile.
 * The production server takes a snapshot before Next loads and puts these back after `prepare()`
 * (decision record 021). The pages router, which is all this app renders, needs none of them.
 * Error.prepareStackTrace is left as Next set it: it only runs when a stack is read.
 */
const PATCHED: readonly (readonly [label: string, owner: () => object, keys: readonly string[]])[] =
  [
    [
      'process',
      () => process,
      ['nextTick', 'on', 'addListener', 'off', 'removeListener', 'once', 'prependListener'],
    ],
    ['globalThis', () => globalThis, ['setImmediate', 'clearImmediate', 'Date']],
    ['timers', () => timers, ['setImmediate', 'clearImmediate']],
    ['Math', () => Math, ['random']],
    [
      'crypto',
      () => nodeCrypto,
      ['randomUUID', 'randomBytes', 'randomFillSync', 'randomInt', 'generatePrimeSync'],
    ],
    ['globalThis.crypto', () => globalThis.crypto, ['getRandomValues', 'randomUUID']],
    [
      'console',
      () => console,
      [
        'log',
        'info',
        'warn',
        'error',
        'debug',
        'trace',
        'dir',
        'table',
        'group',
        'groupCollapsed',
        'groupEnd',
        'assert',
        'time',
        'timeEnd',
        'timeLog',
        'count',
      ],
    ],
  ]

export interface GlobalsSnapshot {
  /** Puts back every property that changed since the snapshot; answers their names. */
  restore(): string[]
}

/** Own property descriptors of the functions above, as they are now. */
export function snapshotGlobals(): GlobalsSnapshot {
  const saved = PATCHED.flatMap(([label, ownerOf, keys]) => {
    const owner = ownerOf()
    return keys.map((key) => ({
      name: `${label}.${key}`,
      owner,
      key,
      descriptor: Object.getOwnPropertyDescriptor(owner, key),
    }))
  })
  return {
    restore() {
      const restored: string[] = []
      for (const { name, owner, key, descriptor } of saved) {
        const now = Object.getOwnPropertyDescriptor(owner, key)
        if (sameDescriptor(now, descriptor)) continue
        // A property the patch added on the object (web crypto's are on its prototype) is removed,
        // which uncovers the original again.
        if (descriptor) Object.defineProperty(owner, key, descriptor)
        else Reflect.deleteProperty(owner, key)
        restored.push(name)
      }
      return restored
    },
  }
}

function sameDescriptor(
  a: PropertyDescriptor | undefined,
  b: PropertyDescriptor | undefined,
): boolean {
  if (!a || !b) return a === b
  return a.value === b.value && a.get === b.get && a.set === b.set
}
