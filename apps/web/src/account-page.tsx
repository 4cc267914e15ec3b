import { useMutation } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import type { ReactNode } from 'react'
import { pageHref } from './locale.ts'
import type { Locale, Messages } from './messages.ts'
import { PageShell } from './page-shell.tsx'
import { useTRPC, useTRPCClient } from './trpc.ts'
import type { SignedInUser } from './trpc.ts'

/** The three pages, each linked from the other two; their words are `t[page]`. */
export type PageName = 'signup' | 'login' | 'reset'

const DESCRIPTIONS: Record<PageName, string> = {
  signup: 'Phone number signup',
  login: 'Sign in with your phone number or an SMS code',
  reset: 'Reset your password by SMS code',
}

const PAGE_PATHS: readonly (readonly [PageName, string])[] = [
  ['login', '/login'],
  ['reset', '/reset'],
  ['signup', '/'],
]

/** How this visit signed in: it picks the heading (and a note) of the signed-in state. */
export type SignedInHow = 'registered' | 'loggedIn' | 'created' | 'reset'

/** Signs the page in with the user a procedure answered. */
export type OnSignedIn = (user: SignedInUser, how: SignedInHow) => void

/**
 * A page of the account: its forms while signed out (with links to the other pages under them),
 * the signed-in state (and sign-out) once `auth.me` or one of its forms says who is signed in.
 */
export function AccountPage(props: {
  page: PageName
  children: (t: Messages, locale: Locale, onSignedIn: OnSignedIn) => ReactNode
}) {
  const client = useTRPCClient()
  // undefined until auth.me answers (the forms show meanwhile), then who is signed in or null.
  const [user, setUser] = useState<SignedInUser | null | undefined>(undefined)
  const [how, setHow] = useState<SignedInHow | null>(null)
  const forms = useRef<HTMLDivElement>(null)
  const signedOut = useRef(false)
  // Read once, with the plain client: TanStack Query's useQuery would add 2.4 KB of script to
  // every page for this one query (decision 011, amendment 4). A sign-in that answers first wins.
  useEffect(() => {
    let live = true
    client.auth.me.query().then(
      (found) => {
        if (live) setUser((known) => (known === undefined ? found : known))
      },
      // Unanswered: the forms stay, and a sign-in says who it is.
      () => undefined,
    )
    return () => {
      live = false
    }
  }, [client])
  const signedIn: OnSignedIn = (signedInUser, nextHow) => {
    setHow(nextHow)
    setUser(signedInUser)
  }
  // After signing out, the focus goes to the form's first field rather than being lost.
  useEffect(() => {
    if (user || !signedOut.current) return
    signedOut.current = false
    forms.current?.querySelector('input')?.focus()
  }, [user])

  return (
    <PageShell title={(t) => t[props.page].title} description={DESCRIPTIONS[props.page]}>
      {(t, locale) =>
        user ? (
          <SignedIn
            user={user}
            how={how}
            t={t}
            onSignedOut={() => {
              signedOut.current = true
              setHow(null)
              setUser(null)
            }}
          />
        ) : (
          <div ref={forms}>
            {props.children(t, locale, signedIn)}
            <nav className="page-links" aria-label={t.otherPages}>
              {PAGE_PATHS.filter(([name]) => name !== props.page).map(([name, path]) => (
                <a key={name} href={pageHref(path, locale)}>
                  {t.links[name]}
                </a>
              ))}
            </nav>
          </div>
        )
      }
    </PageShell>
  )
}

/**
 * Shown once signed in: after a form of this visit signed in (the focus moves to its heading), or
 * on arrival with a live session.
 */
export function SignedIn(props: {
  user: SignedInUser
  how: SignedInHow | null
  t: Messages
  onSignedOut: () => void
}) {
  const { user, how, t, onSignedOut } = props
  const trpc = useTRPC()
  const logout = useMutation(trpc.auth.logout.mutationOptions())
  const heading = useRef<HTMLHeadingElement>(null)
  const announce = how !== null
  useEffect(() => {
    if (announce) heading.current?.focus()
  }, [announce])
  const title =
    how === null
      ? t.welcomeBack
      : t[how === 'registered' ? 'signup' : how === 'reset' ? 'reset' : 'login'].done
  return (
    <section className="signed-in">
      <h2 ref={heading} tabIndex={-1}>
        {title}
      </h2>
      <p data-testid="signed-in-as">{t.signedInAs(user.nickName)}</p>
      {how === 'created' ? <p data-testid="account-created">{t.login.created}</p> : null}
      <button
        type="button"
        className="secondary"
        disabled={logout.isPending}
        onClick={() => logout.mutate(undefined, { onSettled: onSignedOut })}
      >
        {logout.isPending ? t.loggingOut : t.logout}
      </button>
    </section>
  )
}
