import { describe, expect, it } from 'vitest'
import { MemoryStore } from './memory-store.ts'
import { describeKeyValueStoreContract } from './testing/store-contract.ts'

describeKeyValueStoreContract('in-process MemoryStore', () => Promise.resolve(new MemoryStore()))

describe('MemoryStore', () => {
  it('drops expired keys on its sweep even when they are never read', async () => {
    let now = 0
    const store = new MemoryStore({ now: () => now, sweepIntervalMs: 5 })
    await store.set('k', 'v', 1)
    now = 2_000
    await new Promise((resolve) => setTimeout(resolve, 20))
    now = 0 // had the sweep not removed it, the key would be live again at this time
    expect(await store.get('k')).toBeNull()
    await store.close()
  })
})
