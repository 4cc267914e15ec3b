/**
 * The session cookie of the current request, whatever the transport: the server implements it
 * over the Cookie and Set-Cookie headers, tests with a plain object.
 */
export interface SessionCookie {
  /** The session id the request carried, or null. */
  readonly id: string | null
  set(id: string, maxAgeSeconds: number): void
  clear(): void
}

/**
 * The services of every domain, by name. Each domain package adds its own entry where it defines
 * its router (`declare module '@signup/trpc/context' { interface ProcedureServices { auth: … } }`),
 * so this package depends on none of them.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by declaration merging
export interface ProcedureServices {}

/** What a procedure sees, independent of the transport; packages/api builds it per request. */
export interface ProcedureContext {
  services: ProcedureServices
  /** The client's address as the server established it, for limits and logs. */
  clientIp: string | null
  /** The request's session cookie; setting or clearing it changes the response. */
  session: SessionCookie
}
