import { useMutation } from '@tanstack/react-query'
import { useId, useRef, useState } from 'react'
import type { FormEvent } from 'react'
import { RET } from '@signup/trpc/ret'
import { refusalOfIssues } from '@signup/trpc/input-refusal'
import { registerInput } from '@signup/auth/schemas'
import { Field } from './field.tsx'
import type { Locale, Messages } from './messages.ts'
import { describe, placeRefusal } from './problems.ts'
import type { Problem } from './problems.ts'
import { useTRPC } from './trpc.ts'
import type { SignedInUser } from './trpc.ts'

type FieldName = 'smsCode' | 'password'
const FIELDS: readonly FieldName[] = ['smsCode', 'password']

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
  const [problems, setProblems] = useState<Partial<Record<FieldName | 'general', Problem>>>({})
  const smsCodeRef = useRef<HTMLInputElement>(null)
  const passwordRef = useRef<HTMLInputElement>(null)
  const generalId = useId()
  const registration = useMutation(trpc.auth.register.mutationOptions())

  /** Shows a refusal beside its field (and focuses it) or as the form's general message. */
  function show(data: Parameters<typeof placeRefusal>[0]): void {
    const { slot, problem } = placeRefusal(data, FIELDS)
    setProblems({ [slot]: problem })
    if (slot !== 'general') (slot === 'smsCode' ? smsCodeRef : passwordRef).current?.focus()
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
      // Typed by the router's error formatter; undefined when the request never got an answer.
      onError: (error) => show(error.data),
    })
  }

  return (
    <form className="register" onSubmit={onSubmit} noValidate aria-labelledby="register-title">
      <h2 id="register-title">{t.registerTitle}</h2>
      <Field
        id="smsCode"
        label={t.smsCodeLabel}
        message={describe(problems.smsCode, t, locale)}
        invalid={Boolean(problems.smsCode)}
        inputRef={smsCodeRef}
        type="text"
        inputMode="numeric"
        autoComplete="one-time-code"
        maxLength={6}
        placeholder={t.smsCodePlaceholder}
        value={smsCode}
        onChange={(event) => setSmsCode(event.target.value)}
      />
      <Field
        id="password"
        label={t.passwordLabel}
        message={describe(problems.password, t, locale)}
        invalid={Boolean(problems.password)}
        inputRef={passwordRef}
        type="password"
        autoComplete="new-password"
        placeholder={t.passwordPlaceholder}
        value={password}
        onChange={(event) => setPassword(event.target.value)}
      />
      <button type="submit" className="primary" disabled={registration.isPending}>
        {registration.isPending ? t.registering : t.register}
      </button>
      <p id={generalId} className="general-message" aria-live="polite">
        {describe(problems.general, t, locale)}
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
