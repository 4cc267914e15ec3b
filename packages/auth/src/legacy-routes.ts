import type { SessionCookie } from '@signup/trpc/context'
import { refusalOfIssues } from '@signup/trpc/input-refusal'
import { describeError, maskMobile } from '@signup/sms/log-fields'
import { DomainError, isServerFault, RET, RET_MESSAGE } from '@signup/trpc/ret'
import type { Errno } from '@signup/trpc/ret'
import { AuthError } from './auth-error.ts'
import { issueImageCode } from './issue-image-code.ts'
import type { AuthServices } from './ports.ts'
import { login } from './login.ts'
import type { LoginRequestInfo } from './login.ts'
import { register } from './register.ts'
import {
  imageCodeIdSchema,
  loginInput,
  noInput,
  registerInput,
  sendSmsCodeInput,
} from './schemas.ts'
import { sendSmsCode } from './send-sms-code.ts'
import type { SendRequestInfo } from './send-sms-code.ts'
import { logout } from './session.ts'

/** The original's answer shape: `{errno, errmsg}`. */
export interface LegacyBody {
  errno: Errno
  errmsg: string
}

/** An answer of the legacy surface, for the server to write as it is. */
export interface LegacyJsonResponse {
  status: number
  body: LegacyBody
  headers: Record<string, string>
}

/** `Retry-After` for a refusal that says when to retry; nothing otherwise. */
export function retryAfterHeaders(retryAfter: number | undefined): Record<string, string> {
  return retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }
}

/**
 * The one place a domain refusal becomes a legacy answer: the original's `{errno, errmsg}`, HTTP
 * 200 for a business outcome as the original answered (or the status given), and `Retry-After`
 * when the refusal says when to retry.
 */
export function legacyRefusal(error: DomainError, status = 200): LegacyJsonResponse {
  return {
    status,
    body: { errno: error.errno, errmsg: error.errmsg },
    headers: retryAfterHeaders(error.retryAfter),
  }
}

/** A refusal of the request itself (not a business outcome): its status with PARAMERR. */
export function legacyRejection(status: number): LegacyJsonResponse {
  return { status, body: { errno: RET.PARAMERR, errmsg: RET_MESSAGE.PARAMERR }, headers: {} }
}

/** The parts of a zod/mini schema the adapter uses. */
interface InputSchema<Output> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: Output }
    | { success: false; error: { issues: Parameters<typeof refusalOfIssues>[0] } }
}

/**
 * A legacy JSON route: the original's field names for a procedure's input, the procedure's own
 * schema, and the core function both surfaces call. A body that is not an object, or a field of
 * the wrong type, is a 400; every business outcome is a 200, as in the original.
 */
export type LegacyJsonRoute<Request> = (
  services: AuthServices,
  body: unknown,
  request: Request,
) => Promise<LegacyJsonResponse>

export function legacyJsonRoute<Output, Request>(definition: {
  /** The original's name of each input field: `{ image_code: 'imageCode', … }`. */
  fields: Readonly<Record<string, string>>
  schema: InputSchema<Output>
  run: (
    services: AuthServices,
    input: Output,
    request: Request,
  ) => Promise<{ errno: 0; errmsg: string }>
}): LegacyJsonRoute<Request> {
  const { fields, schema, run } = definition
  return async (services, body, request) => {
    const input = legacyInput(body, fields)
    if (!input) return legacyRejection(400)
    const parsed = schema.safeParse(input)
    try {
      // A missing or empty field stays a 200 with PARAMERR, which is what the original answered.
      if (!parsed.success) throw inputRefusal(parsed.error.issues)
      const { errno, errmsg } = await run(services, parsed.data, request)
      return { status: 200, body: { errno, errmsg }, headers: {} }
    } catch (error) {
      if (!(error instanceof DomainError)) throw error
      logServerFault(services, error, input.mobile)
      return legacyRefusal(error)
    }
  }
}

/**
 * The one error line a 4001, 4301 or 4500 answer writes on this surface, as tRPC's onError does on
 * the other: through the request's logger (its request id), with the cause and the masked mobile.
 */
export function logServerFault(
  services: Pick<AuthServices, 'logger'>,
  error: DomainError,
  mobile: string | undefined,
): void {
  if (!isServerFault(error.ret)) return
  services.logger.error(
    {
      errno: error.errno,
      errmsg: error.errmsg,
      cause: describeError(error.cause ?? error),
      ...(mobile ? { mobile: maskMobile(mobile) } : {}),
    },
    'request answered a server fault',
  )
}

function inputRefusal(issues: Parameters<typeof refusalOfIssues>[0]): AuthError {
  const { ret, errmsg, field } = refusalOfIssues(issues)
  return new AuthError(ret, errmsg, field === undefined ? {} : { field })
}

/**
 * The input under the procedure's names when the body is a JSON object and each named field is
 * a string, null or absent (null counts as absent); null when the request is malformed.
 */
function legacyInput(
  body: unknown,
  fields: Readonly<Record<string, string>>,
): Record<string, string | undefined> | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null
  const input: Record<string, string | undefined> = {}
  for (const [legacyName, name] of Object.entries(fields)) {
    const value = (body as Record<string, unknown>)[legacyName]
    if (value !== undefined && value !== null && typeof value !== 'string') return null
    input[name] = value ?? undefined
  }
  return input
}

/** POST /passport/sms_code over the same core as auth.sendSmsCode; `purpose` is optional. */
export const legacySendSmsCode = legacyJsonRoute({
  fields: {
    mobile: 'mobile',
    image_code: 'imageCode',
    image_code_id: 'imageCodeId',
    purpose: 'purpose',
  },
  schema: sendSmsCodeInput,
  run: (services, input, request: SendRequestInfo) => sendSmsCode(services, input, request),
})

/** POST /passport/register over the same core as auth.register; signs the new user in. */
export const legacyRegister = legacyJsonRoute({
  fields: { mobile: 'mobile', smscode: 'smsCode', password: 'password' },
  schema: registerInput,
  run: (services, input, request: { session: SessionCookie }) =>
    register(services, input, request.session),
})

/** POST /passport/login `{mobile, password}` over the same core as auth.login. */
export const legacyLogin = legacyJsonRoute({
  fields: { mobile: 'mobile', password: 'password' },
  schema: loginInput,
  run: (services, input, request: LoginRequestInfo) => login(services, input, request),
})

/** POST and GET /passport/logout over the same core as auth.logout; takes no fields. */
export const legacyLogout = legacyJsonRoute({
  fields: {},
  schema: noInput,
  run: (services, _input, request: { session: SessionCookie }) => logout(services, request.session),
})

export type LegacyImageResponse =
  { kind: 'image'; png: Buffer } | { kind: 'json'; response: LegacyJsonResponse }

/**
 * GET /passport/image_code?imageCodeId=<id>: the client picks the id, as the original's did. Not a
 * JSON business outcome, so refusals use HTTP statuses: 400 for an id that is malformed or one the
 * server issued (auth.getImageCode's, which this route never replaces), 429 with Retry-After past
 * the per-IP limit, 503 when the store fails.
 */
export async function legacyImageCode(
  services: AuthServices,
  imageCodeId: string | null,
  request: SendRequestInfo,
): Promise<LegacyImageResponse> {
  const id = imageCodeIdSchema.safeParse(imageCodeId)
  if (!id.success) return { kind: 'json', response: legacyRejection(400) }
  try {
    const { png } = await issueImageCode(services, { ...request, imageCodeId: id.data })
    return { kind: 'image', png }
  } catch (error) {
    if (!(error instanceof DomainError)) throw error
    logServerFault(services, error, undefined)
    const status = error.ret === 'PARAMERR' ? 400 : error.retryAfter === undefined ? 503 : 429
    return { kind: 'json', response: legacyRefusal(error, status) }
  }
}
