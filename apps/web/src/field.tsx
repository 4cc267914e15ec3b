import { useId } from 'react'
import type { InputHTMLAttributes, ReactNode, Ref } from 'react'

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
