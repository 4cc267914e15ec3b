// zod/mini: the pages read refusals with this too, where full zod would weigh ~40 KB more.
import type * as z from 'zod/mini'
import { RET_MESSAGE } from './ret.ts'
import type { RefusalName } from './ret.ts'

/**
 * What a schema's refinement puts in its params when its refusal is not the plain PARAMERR
 * 参数不全: `z.refine(check, { error: message, params: { ret: 'DATAERR' } satisfies RetParams })`.
 */
export interface RetParams {
  ret: RefusalName
}

export interface InputRefusal {
  ret: RefusalName
  errmsg: string
  /** The input field concerned, when the issue names one. */
  field?: string
}

/**
 * Which refusal a failed parse means: a refinement that names its refusal (a present but
 * malformed mobile is DATAERR) gives that one; anything missing or of the wrong type is PARAMERR,
 * which wins when both occur; so does a PARAMERR with its own message (a password of the wrong
 * length) over a DATAERR.
 */
export function refusalOfIssues(issues: readonly z.core.$ZodIssue[]): InputRefusal {
  const rets = issues.map((issue) =>
    issue.code === 'custom' && isRetParams(issue.params) ? issue.params : undefined,
  )
  const at = Math.max(
    0,
    rets.findIndex((ret) => ret?.ret === 'PARAMERR'),
  )
  const chosen = rets[at]
  const domainRefusal = chosen && rets.every((ret) => ret !== undefined)
  const issue = domainRefusal ? issues[at] : issues.find((_, i) => rets[i] === undefined)
  const field = typeof issue?.path[0] === 'string' ? issue.path[0] : undefined
  const refusal = domainRefusal
    ? { ret: chosen.ret, errmsg: issues[at]?.message ?? RET_MESSAGE[chosen.ret] }
    : { ret: 'PARAMERR' as const, errmsg: RET_MESSAGE.PARAMERR }
  return field === undefined ? refusal : { ...refusal, field }
}

function isRetParams(params: unknown): params is RetParams {
  return typeof params === 'object' && params !== null && 'ret' in params
}
