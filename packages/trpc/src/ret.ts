import type { TRPC_ERROR_CODE_KEY } from '@trpc/server'

/**
 * The one errno table (docs/contract.md section 2), named and numbered as in the original system. Every
 * domain's tRPC procedures and legacy routes answer with these numbers; nothing else defines errnos.
 */
export const RET = {
  OK: 0,
  DBERR: 4001,
  NODATA: 4002,
  DATAEXIST: 4003,
  DATAERR: 4004,
  SESSIONERR: 4101,
  LOGINERR: 4102,
  PARAMERR: 4103,
  USERERR: 4104,
  ROLEERR: 4105,
  PWDERR: 4106,
  REQERR: 4201,
  IPERR: 4202,
  THIRDERR: 4301,
  IOERR: 4302,
  SERVERERR: 4500,
  UNKOWNERR: 4501,
} as const

export type RetName = keyof typeof RET
export type RefusalName = Exclude<RetName, 'OK'>
export type Errno = (typeof RET)[RetName]

/** The original's generic messages, used where a procedure has no more specific one. */
export const RET_MESSAGE: Record<RetName, string> = {
  OK: '成功',
  DBERR: '数据库查询错误',
  NODATA: '无数据',
  DATAEXIST: '数据已存在',
  DATAERR: '数据错误',
  SESSIONERR: '用户未登录',
  LOGINERR: '用户登录失败',
  PARAMERR: '参数不全',
  USERERR: '用户不存在或未激活',
  ROLEERR: '用户身份错误',
  PWDERR: '密码错误',
  REQERR: '请求过于频繁，请稍后再试',
  IPERR: 'IP受限',
  THIRDERR: '第三方系统错误',
  IOERR: '文件读写错误',
  SERVERERR: '内部错误',
  UNKOWNERR: '未知错误',
}

/** The tRPC code each refusal travels with, so a typed client gets a fitting HTTP status too. */
export const RET_TRPC_CODE: Record<RefusalName, TRPC_ERROR_CODE_KEY> = {
  DBERR: 'INTERNAL_SERVER_ERROR',
  NODATA: 'BAD_REQUEST',
  DATAEXIST: 'CONFLICT',
  DATAERR: 'BAD_REQUEST',
  SESSIONERR: 'UNAUTHORIZED',
  LOGINERR: 'UNAUTHORIZED',
  PARAMERR: 'BAD_REQUEST',
  USERERR: 'NOT_FOUND',
  ROLEERR: 'FORBIDDEN',
  PWDERR: 'UNAUTHORIZED',
  REQERR: 'TOO_MANY_REQUESTS',
  IPERR: 'FORBIDDEN',
  THIRDERR: 'BAD_GATEWAY',
  IOERR: 'INTERNAL_SERVER_ERROR',
  SERVERERR: 'INTERNAL_SERVER_ERROR',
  UNKOWNERR: 'INTERNAL_SERVER_ERROR',
}

/**
 * A fault of the server or a system it depends on (4001, 4301, 4500 and the like), not of the
 * request: each such answer, on either surface, writes one error line (docs/contract.md
 * section 11). The tRPC code the table gives it is what says so.
 */
export function isServerFault(ret: RefusalName): boolean {
  const code = RET_TRPC_CODE[ret]
  return code === 'INTERNAL_SERVER_ERROR' || code === 'BAD_GATEWAY'
}

/**
 * A refusal of a domain: what went wrong, in the table's terms. Domains throw their own subclass
 * (AuthError); the adapters turn any of them into a response, each in one place.
 */
export class DomainError extends Error {
  override readonly name: string = 'DomainError'
  readonly ret: RefusalName
  readonly errno: Errno
  readonly errmsg: string
  /** Seconds until a retry can succeed, for REQERR. */
  readonly retryAfter: number | undefined
  /** The input field the refusal is about, so a form can show it beside that field. */
  readonly field: string | undefined

  constructor(
    ret: RefusalName,
    errmsg: string = RET_MESSAGE[ret],
    options: { retryAfter?: number; field?: string; cause?: unknown } = {},
  ) {
    super(errmsg, { cause: options.cause })
    this.ret = ret
    this.errno = RET[ret]
    this.errmsg = errmsg
    this.retryAfter = options.retryAfter
    this.field = options.field
  }
}
