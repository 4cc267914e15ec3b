import { useMutation } from '@tanstack/react-query'
import { useId, useRef, useState } from 'react'
import type { FormEvent } from 'react'
import { RET } from '@signup/auth/ret'
import { registerInput, refusalOfIssues } from '@signup/auth/schemas'
import { englishRefusal } from './messages.ts'
import type { Locale, Messages } from './messages.ts'
import { useTRPC } from './trpc.ts'

type Field = 'smsCode' | 'password' | 'general'
interface Problem {
  errno: number
  errmsg: string
  field: string | undefined
}

export interface SignedInUser {
  id: number
  mobile: string
  nickName: string
}

/** The second step, on the same page once a code was sent: the code, a password, and 注册. */
export function RegisterForm(props: {
  mobile: string
  t: Messages
  locale: Locale
  onRegistered: (user: SignedInUser) => void
}) {
  const { mobile, t, locale, onRegistered } = props
  const trpc = useTRPC()
  const [smsCode, setSmsCode] = useState('')
  const [password, setPassword] = useState('')
  const [problems, setProblems] = useState<Partial<Record<Field, Problem>>>({})
  const smsCodeRef = useRef<HTMLInputElement>(null)
  const passwordRef = useRef<HTMLInputElement>(null)
  const ids = { smsCode: useId(), password: useId(), general: useId() }
  const registration = useMutation(trpc.auth.register.mutationOptions())

  const describe = (problem: Problem | undefined): string => {
    if (!problem) return ''
    return locale === 'zh-CN' ? problem.errmsg : englishRefusal(problem.errno, problem.field)
  }

  function show(problem: Problem): void {
    const field: Field =
      problem.field === 'smsCode' || problem.field === 'password' ? problem.field : 'general'
    setProblems({ [field]: problem })
    if (field === 'smsCode') smsCodeRef.current?.focus()
    if (field === 'password') passwordRef.current?.focus()
  }

  function onSubmit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault()
    if (registration.isPending) return
    // The procedure's own schema: a wrong-length password or a malformed code never leaves here.
    const parsed = registerInput.safeParse({ mobile, smsCode, password })
    if (!parsed.success) {
      const { ret, errmsg, field } = refusalOfIssues(parsed.error.issues)
      show({ errno: RET[ret], errmsg, field })
      return
    }
    setProblems({})
    registration.mutate(parsed.data, {
      onSuccess: (result) => onRegistered(result.user),
      onError: (error) => {
        const data = error.data
        if (!data || typeof data.errno !== 'number') {
          setProblems({
            general: { errno: 0, errmsg: t.network, field: undefined },
          })
          return
        }
        show({ errno: data.errno, errmsg: data.errmsg, field: data.field })
      },
    })
  }

  const general = problems.general
  return (
    <form className="register" onSubmit={onSubmit} noValidate aria-labelledby="register-title">
      <h2 id="register-title">{t.registerTitle}</h2>
      <div className="field">
        <label htmlFor="smsCode">{t.smsCodeLabel}</label>
        <input
          id="smsCode"
          ref={smsCodeRef}
          name="smsCode"
          type="text"
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={6}
          placeholder={t.smsCodePlaceholder}
          value={smsCode}
          onChange={(event) => setSmsCode(event.target.value)}
          aria-invalid={problems.smsCode ? true : undefined}
          aria-describedby={ids.smsCode}
        />
        <p id={ids.smsCode} className="field-message" aria-live="polite">
          {describe(problems.smsCode)}
        </p>
      </div>
      <div className="field">
        <label htmlFor="password">{t.passwordLabel}</label>
        <input
          id="password"
          ref={passwordRef}
          name="password"
          type="password"
          autoComplete="new-password"
          placeholder={t.passwordPlaceholder}
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          aria-invalid={problems.password ? true : undefined}
          aria-describedby={ids.password}
        />
        <p id={ids.password} className="field-message" aria-live="polite">
          {describe(problems.password)}
        </p>
      </div>
      <button type="submit" className="primary" disabled={registration.isPending}>
        {registration.isPending ? t.registering : t.register}
      </button>
      <p id={ids.general} className="general-message" aria-live="polite">
        {general ? (general.errno === 0 ? general.errmsg : describe(general)) : ''}
      </p>
    </form>
  )
}

/** Shown once signed in (after registering, or on a later visit with a live session). */
export function SignedIn(props: { user: SignedInUser; t: Messages; onSignedOut: () => void }) {
  const { user, t, onSignedOut } = props
  const trpc = useTRPC()
  const logout = useMutation(trpc.auth.logout.mutationOptions())
  return (
    <section className="signed-in" aria-live="polite">
      <h2>{t.signedInTitle}</h2>
      <p data-testid="signed-in-as">{t.signedInAs(user.nickName)}</p>
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
