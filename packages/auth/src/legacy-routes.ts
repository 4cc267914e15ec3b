import { issueImageCode } from './get-image-code.ts'
import { AuthError, RET, RET_MESSAGE } from './ret.ts'
import type { Errno } from './ret.ts'
import type { AuthServices, SessionCookie } from './ports.ts'
import { register } from './register.ts'
import { imageCodeIdSchema, refusalOfIssues, registerInput, sendSmsCodeInput } from './schemas.ts'
import { sendSmsCode } from './send-sms-code.ts'
import type { SendRequestInfo } from './send-sms-code.ts'

/** The original's answer shape: `{errno, errmsg}`. */
export interface LegacyBody {
  errno: Errno
  errmsg: string
}

export interface LegacyJsonResponse {
  status: number
  body: LegacyBody
  headers: Record<string, string>
}

/** A refusal of the request itself (not a business outcome): 400/403/413 with PARAMERR. */
export function legacyRejection(status: 400 | 403 | 413 | 404 | 405): LegacyJsonResponse {
  return { status, body: { errno: RET.PARAMERR, errmsg: RET_MESSAGE.PARAMERR }, headers: {} }
}

/**
 * The body's named fields when it is a JSON object and each of them is a string, null or absent
 * (null counts as absent); null when the request itself is malformed, which is a 400.
 */
function legacyFields<const Name extends string>(
  body: unknown,
  names: readonly Name[],
): Record<Name, string | undefined> | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null
  const fields = {} as Record<Name, string | undefined>
  for (const name of names) {
    const value = (body as Record<string, unknown>)[name]
    if (value !== undefined && value !== null && typeof value !== 'string') return null
    fields[name] = value ?? undefined
  }
  return fields
}

/** A domain refusal as the original answered it: HTTP 200 with its errno. */
function legacyRefusal(error: unknown): LegacyJsonResponse {
  if (!(error instanceof AuthError)) throw error
  const headers: Record<string, string> =
    error.retryAfter === undefined ? {} : { 'retry-after': String(error.retryAfter) }
  return { status: 200, body: { errno: error.errno, errmsg: error.errmsg }, headers }
}

const LEGACY_FIELDS = ['mobile', 'image_code', 'image_code_id'] as const

/**
 * POST /passport/sms_code over the same core as auth.sendSmsCode. Business outcomes are HTTP 200
 * as in the original; a body that is not an object, or a field of the wrong type, is a 400.
 * A missing or empty field stays a 200 with PARAMERR, which is what the original answered.
 */
export async function legacySendSmsCode(
  services: AuthServices,
  body: unknown,
  request: SendRequestInfo,
): Promise<LegacyJsonResponse> {
  const fields = legacyFields(body, LEGACY_FIELDS)
  if (!fields) return legacyRejection(400)
  const parsed = sendSmsCodeInput.safeParse({
    mobile: fields.mobile,
    imageCode: fields.image_code,
    imageCodeId: fields.image_code_id,
  })
  if (!parsed.success) {
    const { ret, errmsg } = refusalOfIssues(parsed.error.issues)
    return { status: 200, body: { errno: RET[ret], errmsg }, headers: {} }
  }
  try {
    const result = await sendSmsCode(services, parsed.data, request)
    return { status: 200, body: { errno: result.errno, errmsg: result.errmsg }, headers: {} }
  } catch (error) {
    return legacyRefusal(error)
  }
}

const LEGACY_REGISTER_FIELDS = ['mobile', 'smscode', 'password'] as const

/**
 * POST /passport/register over the same core as auth.register, with the same rules as
 * /passport/sms_code; on success the session cookie is set through `cookie`.
 */
export async function legacyRegister(
  services: AuthServices,
  body: unknown,
  cookie: SessionCookie,
): Promise<LegacyJsonResponse> {
  const fields = legacyFields(body, LEGACY_REGISTER_FIELDS)
  if (!fields) return legacyRejection(400)
  const parsed = registerInput.safeParse({
    mobile: fields.mobile,
    smsCode: fields.smscode,
    password: fields.password,
  })
  if (!parsed.success) {
    const { ret, errmsg } = refusalOfIssues(parsed.error.issues)
    return { status: 200, body: { errno: RET[ret], errmsg }, headers: {} }
  }
  try {
    const result = await register(services, parsed.data, cookie)
    return { status: 200, body: { errno: result.errno, errmsg: result.errmsg }, headers: {} }
  } catch (error) {
    return legacyRefusal(error)
  }
}

export type LegacyImageResponse =
  { kind: 'image'; png: Buffer } | { kind: 'json'; response: LegacyJsonResponse }

/**
 * GET /passport/image_code?imageCodeId=<id>: the client picks the id, as the original's did. Not a
 * JSON business outcome, so refusals use HTTP statuses: 429 with Retry-After past the per-IP
 * limit, 503 when the answer cannot be stored.
 */
export async function legacyImageCode(
  services: AuthServices,
  imageCodeId: string | null,
  request: SendRequestInfo,
): Promise<LegacyImageResponse> {
  const id = imageCodeIdSchema.safeParse(imageCodeId)
  if (!id.success) return { kind: 'json', response: legacyRejection(400) }
  try {
    const { png } = await issueImageCode(services, {
      clientIp: request.clientIp,
      imageCodeId: id.data,
    })
    return { kind: 'image', png }
  } catch (error) {
    if (!(error instanceof AuthError)) throw error
    const limited = error.retryAfter !== undefined
    return {
      kind: 'json',
      response: {
        status: limited ? 429 : 503,
        body: { errno: error.errno, errmsg: error.errmsg },
        headers: limited ? { 'retry-after': String(error.retryAfter) } : {},
      },
    }
  }
}
