import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserDirectory } from '../user-directory.ts'
import { freshMobile } from './mobiles.ts'

export interface DirectoryUnderTest {
  users: UserDirectory
  /** The user's stored last_login_at, read beside the directory (null: never signed in). */
  lastLoginAtOf(mobile: string): Promise<Date | null>
  close(): Promise<void>
}

const HASH = '$scrypt$ln=4,r=8,p=1$c2FsdA$aGFzaA'

/**
 * The behaviour every UserDirectory must have. Runs on the in-memory directory of the unit tests
 * and on Postgres, so the core's tests cannot pass against a stand-in that drifted.
 */
export function describeUserDirectoryContract(
  name: string,
  open: () => Promise<DirectoryUnderTest>,
): void {
  describe(`UserDirectory contract: ${name}`, () => {
    let subject: DirectoryUnderTest
    let users: UserDirectory

    beforeAll(async () => {
      subject = await open()
      users = subject.users
    })
    afterAll(async () => {
      await subject.close()
    })

    async function created(mobile: string, passwordHash: string | null = HASH) {
      const result = await users.create({ mobile, nickName: mobile, passwordHash })
      if (result.kind !== 'created') throw new Error(`expected ${mobile} to be created`)
      return result.user
    }

    it('create answers the summary; findById and findCredentials find it, with its hash', async () => {
      const mobile = freshMobile()
      const user = await created(mobile)
      expect(user).toEqual({ id: expect.any(Number) as unknown, mobile, nickName: mobile })
      expect(await users.existsByMobile(mobile)).toBe(true)
      expect(await users.findById(user.id)).toEqual(user)
      expect(await users.findCredentials(mobile)).toEqual({ user, passwordHash: HASH })
    })

    it('an unknown mobile or id is null, and existsByMobile false', async () => {
      const mobile = freshMobile()
      expect(await users.existsByMobile(mobile)).toBe(false)
      expect(await users.findCredentials(mobile)).toBeNull()
      expect(await users.findById(2_000_000_000)).toBeNull()
    })

    it('an account without a password has a null hash', async () => {
      const mobile = freshMobile()
      const user = await created(mobile, null)
      expect(await users.findCredentials(mobile)).toEqual({ user, passwordHash: null })
    })

    it('create answers taken for a registered mobile, once among concurrent inserts', async () => {
      const mobile = freshMobile()
      const user = { mobile, nickName: mobile, passwordHash: null }
      const results = await Promise.all([
        users.create(user),
        users.create(user),
        users.create(user),
      ])
      expect(results.filter((result) => result.kind === 'created')).toHaveLength(1)
      expect(await users.create(user)).toEqual({ kind: 'taken' })
    })

    it('create records lastLoginAt when given, and leaves it unset otherwise', async () => {
      const signedIn = freshMobile()
      const at = new Date('2026-12-01T08:00:00.000Z')
      await users.create({
        mobile: signedIn,
        nickName: signedIn,
        passwordHash: null,
        lastLoginAt: at,
      })
      expect(await subject.lastLoginAtOf(signedIn)).toEqual(at)
      const never = freshMobile()
      await created(never)
      expect(await subject.lastLoginAtOf(never)).toBeNull()
    })

    it('recordSignIn sets last_login_at; false for an unknown id', async () => {
      const mobile = freshMobile()
      const user = await created(mobile)
      const first = new Date('2026-12-01T09:00:00.000Z')
      const second = new Date('2026-12-01T10:30:00.000Z')
      expect(await users.recordSignIn(user.id, first)).toBe(true)
      expect(await subject.lastLoginAtOf(mobile)).toEqual(first)
      expect(await users.recordSignIn(user.id, second)).toBe(true)
      expect(await subject.lastLoginAtOf(mobile)).toEqual(second)
      expect(await users.recordSignIn(2_000_000_000, second)).toBe(false)
    })

    it('setPasswordHash replaces the hash of that user only; false for an unknown id', async () => {
      const mobile = freshMobile()
      const other = freshMobile()
      const user = await created(mobile, null)
      await created(other)
      expect(await users.setPasswordHash(user.id, '$scrypt$ln=4,r=8,p=1$bmV3$bmV3aGFzaA')).toBe(
        true,
      )
      expect((await users.findCredentials(mobile))?.passwordHash).toBe(
        '$scrypt$ln=4,r=8,p=1$bmV3$bmV3aGFzaA',
      )
      expect((await users.findCredentials(other))?.passwordHash).toBe(HASH)
      expect(await users.setPasswordHash(2_000_000_000, HASH)).toBe(false)
    })
  })
}
