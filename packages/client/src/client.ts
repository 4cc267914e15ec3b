import { createTRPCClient, httpLink } from '@trpc/client'
import type { HTTPHeaders, TRPCClient, TRPCClientError } from '@trpc/client'
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server'
// The only link to the server: a type, erased from what this package ships and loads.
import type { AppRouter } from '@signup/api/root'

export type { AppRouter }

/** A tRPC client of the whole API: `client.auth.sendSmsCode.mutate({...})`, typed end to end. */
export type AuthClient = TRPCClient<AppRouter>

/** Each procedure's input, e.g. `AuthInputs['auth']['register']`. */
export type AuthInputs = inferRouterInputs<AppRouter>

/** Each procedure's output, e.g. `AuthOutputs['auth']['getImageCode']`. */
export type AuthOutputs = inferRouterOutputs<AppRouter>

/** Anything a call of an AuthClient throws: a refusal carries the errno table in `data`. */
export type AuthClientError = TRPCClientError<AppRouter>

/** `error.data` of a refusal, as the server's error formatter shapes it. */
export type AuthErrorData = NonNullable<AuthClientError['data']>

/** A refusal in the errno table's terms (docs/http-api.md). */
export type Refusal = Pick<AuthErrorData, 'errno' | 'errmsg' | 'retryAfter' | 'field'>

/** One of the errno numbers a refusal can carry. */
export type Errno = Refusal['errno']

/** The fetch this package calls: the platform's, or one that adds cookies, logging, retries. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export interface AuthClientOptions {
  /** The server's base URL, e.g. `https://signup.example.com`; the client calls `<url>/api/trpc`. */
  url: string
  /** Sent with every call; a function is called before each call. */
  headers?: HTTPHeaders | (() => HTTPHeaders | Promise<HTTPHeaders>)
  /** Defaults to the global fetch; Node callers pass a cookie jar's fetch to keep a session. */
  fetch?: FetchLike
}

/** The tRPC endpoint under a server's base URL (a trailing slash or none). */
export function trpcEndpoint(url: string): string {
  return `${url.replace(/\/+$/, '')}/api/trpc`
}

/**
 * A client of the signup API. Calls go one per request (no batching), so each refusal comes back
 * with its own HTTP status and the body of a call stays the input object itself.
 */
export function createAuthClient(options: AuthClientOptions): AuthClient {
  const { headers, fetch } = options
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: trpcEndpoint(options.url),
        ...(headers === undefined ? {} : { headers }),
        ...(fetch === undefined ? {} : { fetch }),
      }),
    ],
  })
}

/**
 * The refusal an AuthClient call threw, or null for anything else (no answer from the server, an
 * answer that is not the API's). Checks the shape rather than the class, so it also reads errors
 * thrown by another copy of @trpc/client.
 */
export function refusalOf(error: unknown): Refusal | null {
  if (!isRecord(error) || !isRecord(error.data)) return null
  const { errno, errmsg, retryAfter, field } = error.data
  if (typeof errno !== 'number' || typeof errmsg !== 'string') return null
  const refusal: Refusal = { errno: errno as Errno, errmsg }
  if (typeof retryAfter === 'number') refusal.retryAfter = retryAfter
  if (typeof field === 'string') refusal.field = field
  return refusal
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}
