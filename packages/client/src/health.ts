import type { FetchLike } from './client.ts'

/** What a store answered to the server's ping: in time, with an error, or not within its deadline. */
export type StoreState = 'ok' | 'down' | 'timeout'

/**
 * The body of `GET /healthz`: each store's state and the names of those not ok; or, once the
 * server is shutting down, `draining` with no store checked.
 */
export type HealthzBody =
  | { status: 'ok' | 'down'; postgres: StoreState; redis: StoreState; down: string[] }
  | { status: 'draining'; down: [] }

export interface Health {
  /** True on 200: every store answered. */
  ok: boolean
  httpStatus: number
  report: HealthzBody
}

/**
 * Asks a server's `/healthz`. Answers for 200 and 503 alike (503 is the server saying what is
 * down); throws when there is no answer or the answer is not a health report.
 */
export async function getHealth(options: { url: string; fetch?: FetchLike }): Promise<Health> {
  const fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const response = await fetch(`${options.url.replace(/\/+$/, '')}/healthz`, {
    headers: { accept: 'application/json' },
  })
  const body: unknown = await response.json().catch(() => null)
  if (!isHealthzBody(body)) {
    throw new Error(`${response.status} from /healthz is not a health report`)
  }
  return {
    ok: response.status === 200 && body.status === 'ok',
    httpStatus: response.status,
    report: body,
  }
}

function isHealthzBody(body: unknown): body is HealthzBody {
  if (typeof body !== 'object' || body === null) return false
  const { status } = body as Record<string, unknown>
  return status === 'ok' || status === 'down' || status === 'draining'
}
