import { authRouter } from '@signup/auth/router'
import type { AuthLogger } from '@signup/auth/ports'
import type { ProcedureContext, SessionCookie } from '@signup/trpc/context'
import { createCallerFactory, createTRPCRouter } from '@signup/trpc/init'
import type { AppServices } from './services.ts'

/** The whole API; other workspace apps import only `type AppRouter` from here. */
export const appRouter = createTRPCRouter({
  auth: authRouter,
})

export type AppRouter = typeof appRouter

/** What a procedure sees, independent of any request: used by tests through createCaller. */
export function createContextInner(options: {
  services: Pick<AppServices, 'auth'>
  clientIp: string | null
  /** The request's session cookie (the server's over HTTP headers; a plain object in tests). */
  session: SessionCookie
  /** The request's own logger (carrying its request id); the services' logger otherwise. */
  logger?: AuthLogger
}): ProcedureContext {
  const { auth } = options.services
  return {
    services: { auth: options.logger ? { ...auth, logger: options.logger } : auth },
    clientIp: options.clientIp,
    session: options.session,
  }
}

export const createCaller = createCallerFactory(appRouter)
