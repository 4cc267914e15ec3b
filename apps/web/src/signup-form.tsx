import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { PageShell } from './page-shell.tsx'
import { RegisterForm, SignedIn } from './register-form.tsx'
import { SendCodeForm } from './send-code-form.tsx'
import { useTRPC } from './trpc.ts'
import type { SignedInUser } from './trpc.ts'

/** `/`: the SMS-code step, then (on the same page) the code, a password and 注册. */
export function SignupForm() {
  const trpc = useTRPC()
  const queryClient = useQueryClient()
  const me = useQuery(trpc.auth.me.queryOptions())
  const [sentMobile, setSentMobile] = useState<string | null>(null)
  const setSignedIn = (user: SignedInUser | null): void => {
    queryClient.setQueryData(trpc.auth.me.queryKey(), user)
  }

  return (
    <PageShell title={(t) => t.title}>
      {(t, locale) =>
        me.data ? (
          <SignedIn
            user={me.data}
            t={t}
            onSignedOut={() => {
              setSignedIn(null)
              setSentMobile(null)
            }}
          />
        ) : (
          <>
            <p className="subtitle">{t.subtitle}</p>
            <SendCodeForm t={t} locale={locale} onSent={setSentMobile} />
            {sentMobile ? (
              <RegisterForm
                key={sentMobile}
                mobile={sentMobile}
                t={t}
                locale={locale}
                onRegistered={setSignedIn}
              />
            ) : null}
          </>
        )
      }
    </PageShell>
  )
}
