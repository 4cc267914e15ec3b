import { initTRPC, TRPCError } from '@trpc/server'
import * as z from 'zod/mini'
import type { ProcedureContext } from './context.ts'
import { refusalOfIssues } from './input-refusal.ts'
import { DomainError, RET, RET_MESSAGE, RET_TRPC_CODE } from './ret.ts'
import type { Errno, RefusalName } from './ret.ts'

/** What every refusal carries in `error.data`, on top of tRPC's own fields. */
export interface RefusalData {
  errno: Errno
  errmsg: string
  retryAfter?: number
  /** The input field concerned (e.g. `mobile`, `imageCode`), when there is one. */
  field?: string
}

/**
 * The refusal a TRPCError stands for: its DomainError's, else the tRPC code's row of the table
 * (a body tRPC could not parse, an unknown procedure). What the error formatter puts in `data`.
 */
export function refusalDataOf(error: TRPCError): RefusalData {
  const { cause } = error
  if (cause instanceof DomainError) {
    const data: RefusalData = { errno: cause.errno, errmsg: cause.errmsg }
    if (cause.retryAfter !== undefined) data.retryAfter = cause.retryAfter
    if (cause.field !== undefined) data.field = cause.field
    return data
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

/**
 * tRPC's own messages that hold no part of the request, kept because they say what to change. Its
 * other messages quote the request (a JSON parse error quotes the body, an unknown procedure its
 * name, a refused content type the header), so they are never sent.
 */
const FIXED_TRPC_MESSAGES = new Set(['Batching is not enabled on the server'])

const t = initTRPC.context<ProcedureContext>().create({
  errorFormatter({ shape, error, type }) {
    const refusal = refusalDataOf(error)
    // A refusal's message is its errmsg, ours; an unexpected error's own message may describe
    // internals, and tRPC's may quote what the client sent.
    const message =
      error.cause instanceof DomainError || FIXED_TRPC_MESSAGES.has(error.message)
        ? error.message
        : refusal.errmsg
    // The path of a call that found no procedure is whatever the client wrote in the URL.
    const { path, ...data } = shape.data
    return {
      ...shape,
      message,
      data: { ...data, ...(type === 'unknown' ? {} : { path }), ...refusal },
    }
  },
})

/** The TRPCError of the errno table for a domain refusal, with the refusal as its cause. */
function trpcErrorOf(refusal: DomainError): TRPCError {
  return new TRPCError({
    code: RET_TRPC_CODE[refusal.ret],
    message: refusal.errmsg,
    cause: refusal,
  })
}

/**
 * The one place a domain's refusal becomes a TRPCError: a DomainError thrown by a procedure, and
 * an input its schema refused (whose issues say which refusal they mean, see input-refusal.ts).
 */
const refusals = t.middleware(async ({ next }) => {
  const result = await next()
  if (result.ok) return result
  const { cause } = result.error
  if (cause instanceof DomainError) throw trpcErrorOf(cause)
  if (result.error.code === 'BAD_REQUEST' && cause instanceof z.core.$ZodError) {
    const { ret, errmsg, field } = refusalOfIssues(cause.issues)
    throw trpcErrorOf(new DomainError(ret, errmsg, field === undefined ? {} : { field }))
  }
  return result
})

export const createTRPCRouter = t.router
export const createCallerFactory = t.createCallerFactory
export const middleware = t.middleware
/** The base of every procedure: public, with domain refusals mapped to the errno table. */
export const publicProcedure = t.procedure.use(refusals)
