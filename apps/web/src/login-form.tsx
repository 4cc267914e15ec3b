import { useState } from 'react'
import type { KeyboardEvent } from 'react'
import { loginInput, loginWithSmsCodeInput } from '@signup/auth/schemas'
import { AccountPage } from './account-page.tsx'
import { CodeSteps } from './code-steps.tsx'
import { CredentialsForm } from './credentials-form.tsx'
import type { Messages } from './messages.ts'
import { Providers } from './providers.tsx'
import { useTRPC } from './trpc.ts'

type Method = 'password' | 'smsCode'
const METHODS: readonly Method[] = ['password', 'smsCode']
const PANEL_ID = 'login-panel'
const tabId = (method: Method) => `login-by-${method}`

/** `/login`: by password, or by an SMS code (which makes the account of a number that has none). */
export const LoginForm = () => (
  <Providers>
    <LoginTabs />
  </Providers>
)

/** One tab for each way to sign in; only the chosen tab's form is in the page. */
function LoginTabs() {
  const trpc = useTRPC()
  const [method, setMethod] = useState<Method>('password')
  return (
    <AccountPage page="login">
      {(t, locale, onSignedIn) => (
        <>
          <MethodTabs method={method} t={t} onChange={setMethod} />
          <div role="tabpanel" id={PANEL_ID} aria-labelledby={tabId(method)}>
            {method === 'password' ? (
              <CredentialsForm
                fields={[
                  {
                    name: 'mobile',
                    input: 'mobile',
                    label: t.mobileLabel,
                    placeholder: t.mobilePlaceholder,
                  },
                  {
                    name: 'password',
                    input: 'currentPassword',
                    label: t.login.passwordLabel,
                    placeholder: t.login.passwordPlaceholder,
                  },
                ]}
                schema={loginInput}
                mutation={trpc.auth.login.mutationOptions()}
                submit={t.login.submit}
                pending={t.login.pending}
                // LOGINERR names no field (it does not say which of the two was wrong).
                otherwise="password"
                t={t}
                locale={locale}
                onDone={(result) => onSignedIn(result.user, 'loggedIn')}
              />
            ) : (
              <CodeSteps
                purpose="login"
                words={t.login}
                schema={loginWithSmsCodeInput}
                mutation={trpc.auth.loginWithSmsCode.mutationOptions()}
                t={t}
                locale={locale}
                onDone={(result) =>
                  onSignedIn(result.user, result.created ? 'created' : 'loggedIn')
                }
              />
            )}
          </div>
        </>
      )}
    </AccountPage>
  )
}

/**
 * The two ways to sign in as tabs (WAI-ARIA's tabs pattern): one tab stop; the arrow keys, Home
 * and End choose and focus another tab.
 */
function MethodTabs(props: { method: Method; t: Messages; onChange: (method: Method) => void }) {
  const { method, t, onChange } = props
  function onKeyDown(event: KeyboardEvent<HTMLButtonElement>): void {
    const at = METHODS.indexOf(method)
    const next =
      event.key === 'ArrowRight' || event.key === 'ArrowLeft'
        ? METHODS[(at + (event.key === 'ArrowRight' ? 1 : METHODS.length - 1)) % METHODS.length]
        : event.key === 'Home'
          ? METHODS[0]
          : event.key === 'End'
            ? METHODS[METHODS.length - 1]
            : undefined
    if (next === undefined) return
    event.preventDefault()
    onChange(next)
    document.getElementById(tabId(next))?.focus()
  }
  return (
    <div role="tablist" aria-label={t.login.methods} className="tabs">
      {METHODS.map((each) => (
        <button
          key={each}
          type="button"
          role="tab"
          id={tabId(each)}
          aria-selected={each === method}
          aria-controls={each === method ? PANEL_ID : undefined}
          tabIndex={each === method ? 0 : -1}
          onClick={() => onChange(each)}
          onKeyDown={onKeyDown}
        >
          {each === 'password' ? t.login.byPassword : t.login.bySmsCode}
        </button>
      ))}
    </div>
  )
}
