import { registerInput, resetPasswordInput } from '@signup/auth/schemas'
import { AccountPage } from './account-page.tsx'
import { CodeSteps } from './code-steps.tsx'
import { Providers } from './providers.tsx'
import { useTRPC } from './trpc.ts'

/**
 * `/` and `/reset`, the pages of a code and then a password: register's code, then the code, a
 * password and 注册; or a reset code (the send answers the same whether or not the mobile has an
 * account), then the code and a new password, which ends the other sessions and signs this one in.
 */
function CodeAndPasswordPage({ page }: { page: 'signup' | 'reset' }) {
  const trpc = useTRPC()
  const procedure =
    page === 'signup'
      ? { schema: registerInput, mutation: trpc.auth.register.mutationOptions() }
      : { schema: resetPasswordInput, mutation: trpc.auth.resetPassword.mutationOptions() }
  return (
    <AccountPage page={page}>
      {(t, locale, onSignedIn) => (
        <CodeSteps
          purpose={page === 'signup' ? 'register' : 'reset'}
          words={t[page]}
          password={t[page].passwordLabel}
          {...procedure}
          t={t}
          locale={locale}
          onDone={(result) => onSignedIn(result.user, page === 'signup' ? 'registered' : 'reset')}
        />
      )}
    </AccountPage>
  )
}

export const SignupForm = () => (
  <Providers>
    <CodeAndPasswordPage page="signup" />
  </Providers>
)

export const ResetForm = () => (
  <Providers>
    <CodeAndPasswordPage page="reset" />
  </Providers>
)
