import { describe, expect, it } from 'vitest'
import { snapshotGlobals } from './pristine-globals.ts'

describe('snapshotGlobals', () => {
  it('puts back what was replaced or added since, and names it', () => {
    const random = Math.random
    const nextTick: unknown = Reflect.get(process, 'nextTick')
    const snapshot = snapshotGlobals()
    try {
      Math.random = () => 0.5
      Reflect.set(process, 'nextTick', () => undefined)
      // As Next's web-crypto patch does: an own property over the prototype's method.
      Object.defineProperty(globalThis.crypto, 'randomUUID', {
        value: () => '00000000-0000-4000-8000-000000000000',
        configurable: true,
        writable: true,
      })
      expect(snapshot.restore().sort()).toEqual([
        'Math.random',
        'globalThis.crypto.randomUUID',
        'process.nextTick',
      ])
      expect(Math.random).toBe(random)
      expect(Reflect.get(process, 'nextTick')).toBe(nextTick)
      expect(Object.hasOwn(globalThis.crypto, 'randomUUID')).toBe(false)
      expect(globalThis.crypto.randomUUID()).not.toBe('00000000-0000-4000-8000-000000000000')
    } finally {
      Math.random = random
      Reflect.set(process, 'nextTick', nextTick)
      Reflect.deleteProperty(globalThis.crypto, 'randomUUID')
    }
  })

  it('changes nothing when nothing changed', () => {
    expect(snapshotGlobals().restore()).toEqual([])
  })
})
