import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import type { PasswordHasher, PasswordVerifier } from './ports.ts'

/** scrypt's cost: N = 2^ln, block size r, parallelism p (decision record 007). */
export interface ScryptParams {
  ln: number
  r: number
  p: number
}

/** OWASP's 32 MiB point of its equal-strength scrypt table; measured and chosen in 007. */
export const PRODUCTION_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 3 }

const SALT_BYTES = 16
const KEY_BYTES = 32
/** Stored strings with a higher cost are refused before hashing, not allowed to pin the server. */
const LIMITS: ScryptParams = { ln: 20, r: 32, p: 16 }
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

/**
 * Hashes with node:crypto's scrypt, which runs on libuv's thread pool, off the event loop. The
 * result is a PHC string, `$scrypt$ln=15,r=8,p=3$<salt>$<hash>` (unpadded base64), so the
 * parameters travel with each hash and can be raised later without breaking stored ones.
 * It verifies too, and a stored string it cannot verify (none, or not one of its own) costs the
 * same scrypt run as a wrong password: against its decoy, a hash at its own cost of a random key.
 */
export function createScryptHasher(
  params: ScryptParams = PRODUCTION_SCRYPT,
): PasswordHasher & PasswordVerifier {
  const decoyHash = phcString(params, randomBytes(SALT_BYTES), randomBytes(KEY_BYTES))
  const decoy = parsePhc(decoyHash)
  if (!decoy) throw new RangeError(`scrypt parameters out of range: ${JSON.stringify(params)}`)
  return {
    async hash(password) {
      const salt = randomBytes(SALT_BYTES)
      const key = await derive(password, salt, KEY_BYTES, params)
      return phcString(params, salt, key)
    },
    decoyHash,
    async verify(password, stored) {
      const parsed = parsePhc(stored)
      // The decoy's key is random: no password derives it, so this answers false either way.
      const matches = await derivesTo(password, parsed ?? decoy)
      return parsed !== null && matches
    },
  }
}

/** Whether the password matches a string made by createScryptHasher; false for a malformed one.
 * Only tests call it until password sign-in (issue 13). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePhc(stored)
  return parsed !== null && (await derivesTo(password, parsed))
}

interface ParsedHash {
  params: ScryptParams
  salt: Buffer
  key: Buffer
}

/** A PHC string's parts, or null when it is malformed or asks for a cost outside the limits. */
function parsePhc(stored: string): ParsedHash | null {
  const match = PHC.exec(stored)
  if (!match) return null
  const [, ln, r, p, salt, hash] = match
  const params = { ln: Number(ln), r: Number(r), p: Number(p) }
  if (params.ln > LIMITS.ln || params.r > LIMITS.r || params.p > LIMITS.p) return null
  if (params.ln < 1 || params.r < 1 || params.p < 1) return null
  const key = Buffer.from(hash ?? '', 'base64')
  if (key.length < 16) return null
  return { params, salt: Buffer.from(salt ?? '', 'base64'), key }
}

async function derivesTo(password: string, { params, salt, key }: ParsedHash): Promise<boolean> {
  const actual = await derive(password, salt, key.length, params)
  return timingSafeEqual(actual, key)
}

function phcString(params: ScryptParams, salt: Buffer, key: Buffer): string {
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`
}

function derive(password: string, salt: Buffer, keyBytes: number, params: ScryptParams) {
  const N = 2 ** params.ln
  // NFKC, as NIST SP 800-63B advises: a full-width or composed character typed by another input
  // method on another device still gives the same password.
  const normalized = password.normalize('NFKC')
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(
      normalized,
      salt,
      keyBytes,
      // maxmem above scrypt's 128 * N * r bytes, which equals Node's 32 MiB default at N=2^15.
      { N, r: params.r, p: params.p, maxmem: 256 * N * params.r },
      (error, key) => (error ? reject(error) : resolve(key)),
    )
  })
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}
