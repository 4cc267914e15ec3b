import { describe, expect, it } from 'vitest'
import { createScryptHasher, PRODUCTION_SCRYPT, verifyPassword } from './password-hash.ts'

const cheap = createScryptHasher({ ln: 10, r: 8, p: 1 })

describe('scrypt password hashes', () => {
  it('production cost: a PHC string with its parameters, which verifies', async () => {
    const hash = await createScryptHasher().hash('correct horse')
    const { ln, r, p } = PRODUCTION_SCRYPT
    expect(hash).toMatch(
      new RegExp(`^\\$scrypt\\$ln=${ln},r=${r},p=${p}\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}$`),
    )
    expect(hash.length).toBeLessThanOrEqual(255)
    expect(await verifyPassword('correct horse', hash)).toBe(true)
    // Two scrypt runs at production cost are seconds of CPU on a slow, busy machine: more than
    // the 5 s a unit test gets by default.
  }, 60_000)

  it('salts every hash, and verifies only the right password', async () => {
    const [one, two] = await Promise.all([cheap.hash('correct horse'), cheap.hash('correct horse')])
    expect(one).not.toBe(two)
    expect(await verifyPassword('correct horse', one)).toBe(true)
    expect(await verifyPassword('correct horse', two)).toBe(true)
    expect(await verifyPassword('correct horsE', one)).toBe(false)
    expect(await verifyPassword('', one)).toBe(false)
  })

  it('verifies with the parameters stored in the hash, not the current ones', async () => {
    const old = await createScryptHasher({ ln: 8, r: 4, p: 2 }).hash('pa55word')
    expect(old.startsWith('$scrypt$ln=8,r=4,p=2$')).toBe(true)
    expect(await verifyPassword('pa55word', old)).toBe(true)
  })

  it('normalises to NFKC: full-width and half-width input give the same password', async () => {
    const hash = await cheap.hash('ｐａｓｓｗｏｒｄ１２３')
    expect(await verifyPassword('password123', hash)).toBe(true)
    const composed = await cheap.hash('caf\u00e9-caf\u00e9')
    expect(await verifyPassword('cafe\u0301-cafe\u0301', composed)).toBe(true)
  })

  it.each([
    '',
    'plain text',
    '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA',
    '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    // A cost far above any we issue is refused without running it.
    '$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    '$scrypt$ln=0,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    '$scrypt$ln=10,r=8,p=1$c2FsdA$aGFzaA',
  ])('answers false for the malformed stored string %j', async (stored) => {
    expect(await verifyPassword('anything', stored)).toBe(false)
  })
})

describe('the scrypt verifier', () => {
  it('verifies its own hashes, and no password against its decoy', async () => {
    const hash = await cheap.hash('correct horse')
    expect(await cheap.verify('correct horse', hash)).toBe(true)
    expect(await cheap.verify('correct horsE', hash)).toBe(false)
    for (const password of ['correct horse', '', 'x'.repeat(128)]) {
      expect(await cheap.verify(password, cheap.decoyHash)).toBe(false)
    }
  })

  it('its decoy is a hash at its own cost, of the same shape, and new for every hasher', async () => {
    const hash = await cheap.hash('correct horse')
    const shape = (stored: string) =>
      stored.replace(/\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/, '$<salt>$<key>')
    expect(shape(cheap.decoyHash)).toBe('$scrypt$ln=10,r=8,p=1$<salt>$<key>')
    expect(shape(cheap.decoyHash)).toBe(shape(hash))
    expect(shape(createScryptHasher().decoyHash)).toBe('$scrypt$ln=15,r=8,p=3$<salt>$<key>')
    expect(createScryptHasher().decoyHash).not.toBe(createScryptHasher().decoyHash)
  })

  it('answers false for a stored string it cannot verify', async () => {
    for (const stored of [
      '',
      'pbkdf2:sha256:260000$salt$hash',
      '$scrypt$ln=30,r=8,p=1$c2FsdA$aGFzaA',
    ]) {
      expect(await cheap.verify('anything', stored)).toBe(false)
    }
  })

  it('refuses parameters it could never verify with', () => {
    expect(() => createScryptHasher({ ln: 21, r: 8, p: 1 })).toThrow(RangeError)
  })
})
