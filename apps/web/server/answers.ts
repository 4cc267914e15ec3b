import type { ServerResponse } from 'node:http'
import { legacyRejection } from '@signup/auth/legacy-routes'
import type { LegacyJsonResponse } from '@signup/auth/legacy-routes'
import { RET, RET_MESSAGE } from '@signup/trpc/ret'
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc'
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc'
import { sendJson } from './http-io.ts'

/** Which answer shape a route's refusals take: the original's `{errno, errmsg}`, or tRPC's. */
export type Surface = 'legacy' | 'trpc'

/** Refusals of a request itself, before any procedure runs; each is PARAMERR 4103. */
export type RequestRefusal =
  | 'malformed'
  | 'not-json'
  | 'cross-origin'
  | 'too-large'
  | 'not-found'
  | 'method-not-allowed'
  | 'bad-target'
  | 'bad-host'

/** The HTTP status of each on each surface (tRPC says 415 where the original said 400), and
 * the tRPC code a tRPC client reads. */
const REQUEST_REFUSALS: Record<
  RequestRefusal,
  { legacy: number; trpc: number; code: TRPC_ERROR_CODE_KEY }
> = {
  malformed: { legacy: 400, trpc: 400, code: 'PARSE_ERROR' },
  'not-json': { legacy: 400, trpc: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  'cross-origin': { legacy: 403, trpc: 403, code: 'FORBIDDEN' },
  'too-large': { legacy: 413, trpc: 413, code: 'PAYLOAD_TOO_LARGE' },
  'not-found': { legacy: 404, trpc: 404, code: 'NOT_FOUND' },
  'method-not-allowed': { legacy: 405, trpc: 405, code: 'METHOD_NOT_SUPPORTED' },
  // A request target that is not a path (`*x`, `http://host/`, `host:port`), or a Host header
  // that is not a plain host and port: the client's mistake (RFC 9112 section 3.2).
  'bad-target': { legacy: 400, trpc: 400, code: 'BAD_REQUEST' },
  'bad-host': { legacy: 400, trpc: 400, code: 'BAD_REQUEST' },
}

/** Writes an answer of the legacy surface. */
export function answerLegacy(res: ServerResponse, response: LegacyJsonResponse): void {
  sendJson(res, response.status, response.body, response.headers)
}

/** Answers a refused request in its surface's shape. */
export function answerRequestRefusal(
  res: ServerResponse,
  surface: Surface,
  refusal: RequestRefusal,
  headers: Record<string, string> = {},
): void {
  const { code, [surface]: status } = REQUEST_REFUSALS[refusal]
  if (surface === 'legacy') {
    const response = legacyRejection(status)
    return answerLegacy(res, { ...response, headers: { ...response.headers, ...headers } })
  }
  const data = { code, httpStatus: status, errno: RET.PARAMERR, errmsg: RET_MESSAGE.PARAMERR }
  const error = { message: RET_MESSAGE.PARAMERR, code: TRPC_ERROR_CODES_BY_KEY[code], data }
  sendJson(res, status, { error }, headers)
}

/** The answer of a request that failed in a way nothing expected. */
export function answerServerError(res: ServerResponse): void {
  sendJson(res, 500, { errno: RET.SERVERERR, errmsg: RET_MESSAGE.SERVERERR })
}
