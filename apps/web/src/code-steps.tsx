import { useState } from 'react'
import type { UseMutationOptions } from '@tanstack/react-query'
import type { SmsCodePurpose } from '@signup/auth/schemas'
import { CredentialsForm } from './credentials-form.tsx'
import type { InputSchema } from './credentials-form.tsx'
import type { Locale, Messages } from './messages.ts'
import type { RefusalData } from './problems.ts'
import { SendCodeForm } from './send-code-form.tsx'

/** A page's words for its code steps (`t.signup`, `t.login`, `t.reset`). */
interface StepWords {
  subtitle: string
  stepTitle: string
  submit: string
  pending: string
}

/**
 * The SMS-code flow of a page: a code sent for `purpose` (SendCodeForm), then below it the step
 * that uses the code, with a new password under the label `password` if given, sent with the
 * mobile the code went to. A code sent to another mobile starts the step afresh.
 */
export function CodeSteps<
  TVariables,
  TData,
  TError extends { readonly data?: RefusalData | null | undefined },
>(props: {
  purpose: SmsCodePurpose
  words: StepWords
  password?: string
  schema: InputSchema<TVariables>
  mutation: UseMutationOptions<TData, TError, TVariables>
  t: Messages
  locale: Locale
  onDone: (data: TData) => void
}) {
  const { words, t, locale } = props
  const [sentMobile, setSentMobile] = useState<string | null>(null)
  const smsCode = {
    name: 'smsCode',
    input: 'smsCode',
    label: t.smsCodeLabel,
    placeholder: t.smsCodePlaceholder,
  } as const
  const password = props.password
    ? ({
        name: 'password',
        input: 'newPassword',
        label: props.password,
        placeholder: t.passwordPlaceholder,
      } as const)
    : undefined
  return (
    <>
      <p className="subtitle">{words.subtitle}</p>
      <SendCodeForm purpose={props.purpose} t={t} locale={locale} onSent={setSentMobile} />
      {sentMobile === null ? null : (
        <CredentialsForm
          key={sentMobile}
          fields={password ? [smsCode, password] : [smsCode]}
          fixed={{ mobile: sentMobile }}
          schema={props.schema}
          mutation={props.mutation}
          heading={words.stepTitle}
          submit={words.submit}
          pending={words.pending}
          autoFocus
          t={t}
          locale={locale}
          onDone={props.onDone}
        />
      )}
    </>
  )
}
