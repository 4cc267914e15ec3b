import { authRouter } from '@signup/auth/router'
import { createCallerFactory, createTRPCRouter } from '@signup/auth/trpc'
import type { AuthContext } from '@signup/auth/trpc'
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
}): AuthContext {
  return { auth: options.services.auth, clientIp: options.clientIp }
}

export const createCaller = createCallerFactory(appRouter)
