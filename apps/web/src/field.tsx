import { useId } from 'react'
import type { InputHTMLAttributes, ReactNode, Ref } from 'react'
import type { Locale, Messages } from './messages.ts'
import { describe } from './problems.ts'
import type { Problem } from './problems.ts'

type FieldProps = Omit<
  InputHTMLAttributes<HTMLInputElement>,
  'id' | 'name' | 'aria-invalid' | 'aria-describedby'
> & {
  /** The input's id and name (tests and autofill find the field by them). */
  id: string
  label: string
  /** The field's message, read out when it changes; '' keeps its space empty. */
  message: string
  invalid: boolean
  inputRef?: Ref<HTMLInputElement>
  /** Shown on the input's row, after it (the captcha image). */
  addon?: ReactNode
}

/** The input attributes of each kind of field, the same on every page. */
export const INPUTS = {
  mobile: { type: 'tel', inputMode: 'numeric', autoComplete: 'tel-national', maxLength: 14 },
  smsCode: { type: 'text', inputMode: 'numeric', autoComplete: 'one-time-code', maxLength: 6 },
  // No maxLength: the schema counts a password's 128 characters in code points, not UTF-16 units.
  newPassword: { type: 'password', autoComplete: 'new-password' },
  currentPassword: { type: 'password', autoComplete: 'current-password' },
} as const satisfies Record<string, InputHTMLAttributes<HTMLInputElement>>

/** A labelled input with its own polite message below it, which describes the input. */
export function Field({ id, label, message, invalid, inputRef, addon, ...input }: FieldProps) {
  const messageId = useId()
  const field = (
    <input
      {...input}
      id={id}
      name={id}
      ref={inputRef}
      aria-invalid={invalid ? true : undefined}
      aria-describedby={messageId}
    />
  )
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {addon ? (
        <div className="field-row">
          {field}
          {addon}
        </div>
      ) : (
        field
      )}
      <p id={messageId} className="field-message" aria-live="polite">
        {message}
      </p>
    </div>
  )
}

/**
 * A form's message about no one field (the service, the network, the form's own state), with a
 * retry that submits the form again while a problem is shown.
 */
export function GeneralMessage(props: {
  id?: string
  problem: Problem | undefined
  t: Messages
  locale: Locale
  busy: boolean
  /** Whether the message is its own live region (not inside one already). */
  live?: boolean
}) {
  const { problem, t } = props
  return (
    <p id={props.id} className="general-message" aria-live={props.live ? 'polite' : undefined}>
      {describe(problem, t, props.locale)}
      {problem ? (
        <button type="submit" className="link-button retry" disabled={props.busy}>
          {t.retry}
        </button>
      ) : null}
    </p>
  )
}
