import { createTRPCContext } from '@trpc/tanstack-react-query'
import type { inferRouterOutputs } from '@trpc/server'
import type { AppRouter } from '@signup/api/root'

/** Typed hooks for the whole API; only the router's type crosses into the browser bundle. */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>()

/** The signed-in user as the API answers it: `auth.register`'s `user`, and what `auth.me` returns. */
export type SignedInUser = inferRouterOutputs<AppRouter>['auth']['register']['user']
