import { initTRPC, TRPCError } from '@trpc/server'
import * as z from 'zod/mini'
import { AuthError, RET, RET_MESSAGE, RET_TRPC_CODE } from './ret.ts'
import type { Errno, RefusalName } from './ret.ts'
import type { AuthServices, SessionCookie } from './ports.ts'
import { refusalOfIssues } from './schemas.ts'

/** What a procedure needs; the transport-aware context (request, IP) is built in packages/api. */
export interface AuthContext {
  auth: AuthServices
  /** The client's address as the server established it, for limits and logs. */
  clientIp: string | null
  /** The request's session cookie; setting or clearing it changes the response. */
  session: SessionCookie
}

/** What every refusal carries in `error.data`, on top of tRPC's own fields. */
export interface RefusalData {
  errno: Errno
  errmsg: string
  retryAfter?: number
  /** The input field concerned (e.g. `mobile`, `imageCode`), when there is one. */
  field?: string
}

/** The errno of any error a procedure or the tRPC handler raised. */
export function refusalOf(error: TRPCError): RefusalData {
  const { cause } = error
  if (cause instanceof AuthError) {
    const data: RefusalData = { errno: cause.errno, errmsg: cause.errmsg }
    if (cause.retryAfter !== undefined) data.retryAfter = cause.retryAfter
    if (cause.field !== undefined) data.field = cause.field
    return data
  }
  if (cause instanceof z.core.$ZodError) {
    const { ret, errmsg, field } = refusalOfIssues(cause.issues)
    return field === undefined ? { errno: RET[ret], errmsg } : { errno: RET[ret], errmsg, field }
  }
  const ret = retOfTrpcCode(error.code)
  return { errno: RET[ret], errmsg: RET_MESSAGE[ret] }
}

function retOfTrpcCode(code: TRPCError['code']): RefusalName {
  switch (code) {
    case 'PARSE_ERROR':
    case 'BAD_REQUEST':
    case 'PAYLOAD_TOO_LARGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
    case 'METHOD_NOT_SUPPORTED':
    case 'NOT_FOUND':
    case 'UNPROCESSABLE_CONTENT':
    case 'FORBIDDEN':
      return 'PARAMERR'
    case 'TOO_MANY_REQUESTS':
      return 'REQERR'
    default:
      return 'SERVERERR'
  }
}

const t = initTRPC.context<AuthContext>().create({
  errorFormatter({ shape, error }) {
    const refusal = refusalOf(error)
    // An unexpected error's own message may describe internals; the client gets the table's text.
    const message = refusal.errno === RET.SERVERERR ? refusal.errmsg : shape.message
    return { ...shape, message, data: { ...shape.data, ...refusal } }
  },
})

export const createTRPCRouter = t.router
export const createCallerFactory = t.createCallerFactory
export const publicProcedure = t.procedure

/** Runs a domain function and turns its AuthError into the TRPCError of the errno table. */
export async function asProcedure<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (error instanceof AuthError) {
      throw new TRPCError({ code: RET_TRPC_CODE[error.ret], message: error.errmsg, cause: error })
    }
    throw error
  }
}
