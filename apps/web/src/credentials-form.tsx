import { useMutation } from '@tanstack/react-query'
import type { UseMutationOptions } from '@tanstack/react-query'
import { useId, useRef, useState } from 'react'
import type { FormEvent } from 'react'
import { refusalOfIssues } from '@signup/trpc/input-refusal'
import { RET } from '@signup/trpc/ret'
import { useCountdown } from './countdown.ts'
import { Field, GeneralMessage, INPUTS } from './field.tsx'
import type { Locale, Messages } from './messages.ts'
import { describe, placeRefusal, retryAfterOf } from './problems.ts'
import type { Problem, RefusalData } from './problems.ts'

/** A procedure's input schema (from @signup/auth/schemas), as far as the form uses it. */
export interface InputSchema<T> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: Parameters<typeof refusalOfIssues>[0] } }
}

/** The fields a sign-in form may show, named as the procedures' inputs name them. */
export type CredentialName = 'mobile' | 'smsCode' | 'password'

export interface CredentialField<F extends CredentialName> {
  name: F
  input: keyof typeof INPUTS
  label: string
  placeholder: string
}

/**
 * A form of a few fields sent to one procedure: register, the password sign-in, the SMS-code
 * sign-in, the reset. The procedure's own schema is checked first, so nothing it would refuse is
 * sent; a refusal is shown beside the field it names (and the field focused), else beside
 * `otherwise`, else in the general message with a retry. A REQERR counts the button down from its
 * `retryAfter`.
 */
export function CredentialsForm<
  F extends CredentialName,
  TVariables,
  TData,
  TError extends { readonly data?: RefusalData | null | undefined },
>(props: {
  fields: readonly CredentialField<F>[]
  /** What the form sends without showing it (the mobile a code was sent to). */
  fixed?: { mobile: string }
  schema: InputSchema<TVariables>
  /** The procedure's `mutationOptions()`. */
  mutation: UseMutationOptions<TData, TError, TVariables>
  /** A heading of its own, when the form is a step below another one. */
  heading?: string
  submit: string
  pending: string
  /** Where a refusal naming no field of this form goes (the password, for LOGINERR). */
  otherwise?: F
  /** Focus the first field on mount: the form appeared after a code was sent. */
  autoFocus?: boolean
  t: Messages
  locale: Locale
  onDone: (data: TData) => void
}) {
  const { fields, t, locale } = props
  const [values, setValues] = useState<Partial<Record<F, string>>>({})
  const [problems, setProblems] = useState<Partial<Record<F | 'general', Problem>>>({})
  const [secondsLeft, startCooldown] = useCountdown()
  const inputs = useRef(new Map<F, HTMLInputElement>())
  const headingId = useId()
  const mutation = useMutation(props.mutation)
  const busy = mutation.isPending || secondsLeft > 0

  /** Shows a refusal beside its field (and focuses it) or as the form's general message. */
  function show(data: RefusalData | null | undefined): void {
    const seconds = retryAfterOf(data)
    if (seconds !== null) startCooldown(seconds)
    const names = fields.map((field) => field.name)
    const { slot, problem } = placeRefusal(data, names, props.otherwise)
    setProblems({ [slot]: problem } as Partial<Record<F | 'general', Problem>>)
    if (slot !== 'general') inputs.current.get(slot)?.focus()
  }

  function onSubmit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault()
    if (busy) return
    const blank = Object.fromEntries(fields.map((field) => [field.name, '']))
    const parsed = props.schema.safeParse({ ...blank, ...props.fixed, ...values })
    if (!parsed.success) {
      const { ret, errmsg, field } = refusalOfIssues(parsed.error.issues)
      show({ errno: RET[ret], errmsg, field })
      return
    }
    setProblems({})
    mutation.mutate(parsed.data, {
      onSuccess: props.onDone,
      // Typed by the router's error formatter; undefined when the request never got an answer.
      onError: (error) => show(error.data),
    })
  }

  const label = mutation.isPending
    ? props.pending
    : secondsLeft > 0
      ? t.retryIn(secondsLeft)
      : props.submit
  return (
    <form
      className={props.heading ? 'step' : undefined}
      onSubmit={onSubmit}
      noValidate
      aria-labelledby={props.heading ? headingId : undefined}
    >
      {props.heading ? <h2 id={headingId}>{props.heading}</h2> : null}
      {fields.map((field, index) => (
        <Field
          key={field.name}
          {...INPUTS[field.input]}
          id={field.name}
          label={field.label}
          placeholder={field.placeholder}
          message={describe(problems[field.name], t, locale)}
          invalid={Boolean(problems[field.name])}
          autoFocus={props.autoFocus && index === 0}
          inputRef={(input) => {
            if (input) inputs.current.set(field.name, input)
            else inputs.current.delete(field.name)
          }}
          value={values[field.name] ?? ''}
          onChange={(event) => {
            const value = event.target.value
            setValues((old) => ({ ...old, [field.name]: value }))
          }}
        />
      ))}
      <button type="submit" className="primary" disabled={busy}>
        {label}
      </button>
      <GeneralMessage problem={problems.general} t={t} locale={locale} busy={busy} live />
    </form>
  )
}
