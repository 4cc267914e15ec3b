import { DomainError } from '@signup/trpc/ret'

/** A refusal of the auth domain, in the errno table's terms; the adapters map it (ret.ts). */
export class AuthError extends DomainError {
  override readonly name = 'AuthError'
}
