import { RET } from '@signup/trpc/ret'
import { englishRefusal } from './messages.ts'
import type { Locale, Messages } from './messages.ts'

/** A check of the page itself, worded by the page in either language. */
type ClientProblem = 'mobileInvalid' | 'imageCodeRequired' | 'network' | 'captchaUnavailable'

/** What a message slot shows: a check of ours, or a refusal (kept raw, so a language switch re-words it). */
export type Problem =
  | { kind: 'client'; key: ClientProblem }
  | { kind: 'server'; errno: number; errmsg: string; field: string | undefined }

/** Refusals about the service, not about anything typed: never shown beside a field. */
const GENERAL_ERRNOS = new Set<number>([RET.DBERR, RET.THIRDERR, RET.SERVERERR])

/** The words for a problem in the page's language; '' for none. */
export function describe(problem: Problem | undefined, t: Messages, locale: Locale): string {
  if (!problem) return ''
  if (problem.kind === 'client') return t[problem.key]
  return locale === 'zh-CN' ? problem.errmsg : englishRefusal(problem.errno, problem.field)
}

/** The `error.data` a tRPC mutation fails with, as far as the pages read it. */
export interface RefusalData {
  errno?: unknown
  errmsg?: string
  field?: string | undefined
  retryAfter?: number | undefined
}

/** The seconds a REQERR asks to wait (its `retryAfter`), or null for any other failure. */
export function retryAfterOf(data: RefusalData | null | undefined): number | null {
  return data?.errno === RET.REQERR && typeof data.retryAfter === 'number' ? data.retryAfter : null
}

/**
 * Where a refusal is shown: beside the form's field it names, else in `otherwise` (the form's
 * general message unless the form says which field is meant when none is named). A failure
 * without an errno (the request never got an answer) is the network message.
 */
export function placeRefusal<F extends string>(
  data: RefusalData | null | undefined,
  fields: readonly F[],
  otherwise: F | 'general' = 'general',
): { slot: F | 'general'; problem: Problem } {
  if (!data || typeof data.errno !== 'number') {
    return { slot: 'general', problem: { kind: 'client', key: 'network' } }
  }
  const problem: Problem = {
    kind: 'server',
    errno: data.errno,
    errmsg: data.errmsg ?? '',
    field: data.field,
  }
  if (GENERAL_ERRNOS.has(data.errno)) return { slot: 'general', problem }
  const named = fields.find((field) => field === data.field)
  return { slot: named ?? otherwise, problem }
}
