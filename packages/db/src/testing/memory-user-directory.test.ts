import { describe, expect, it } from 'vitest'
import { createMemoryUserDirectory } from './memory-user-directory.ts'
import { describeUserDirectoryContract } from './user-directory-contract.ts'

describe('createMemoryUserDirectory', () => {
  it('knows the seeded mobiles and the ones added later', async () => {
    const users = createMemoryUserDirectory(['13800138000'])
    expect(await users.existsByMobile('13800138000')).toBe(true)
    expect(await users.existsByMobile('13800138001')).toBe(false)
    users.add('13800138001')
    expect(await users.existsByMobile('13800138001')).toBe(true)
  })

  it('creates users once per mobile and finds them by id', async () => {
    const users = createMemoryUserDirectory(['13800138000'])
    const created = await users.create({ mobile: '13800138002', nickName: 'n', passwordHash: 'h' })
    expect(created).toEqual({
      kind: 'created',
      user: { id: 2, mobile: '13800138002', nickName: 'n' },
    })
    expect(await users.create({ mobile: '13800138000', nickName: 'n', passwordHash: 'h' })).toEqual(
      { kind: 'taken' },
    )
    expect(await users.findById(2)).toEqual({ id: 2, mobile: '13800138002', nickName: 'n' })
    expect(await users.findById(3)).toBeNull()
  })
})

describeUserDirectoryContract('in-memory createMemoryUserDirectory', () => {
  const users = createMemoryUserDirectory()
  return Promise.resolve({
    users,
    lastLoginAtOf: (mobile) => Promise.resolve(users.lastLoginAtOf(mobile) ?? null),
    close: () => Promise.resolve(),
  })
})
