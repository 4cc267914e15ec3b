import { createTRPCContext } from '@trpc/tanstack-react-query'
import type { AppRouter } from '@signup/api/root'

/** Typed hooks for the whole API; only the router's type crosses into the browser bundle. */
export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>()
