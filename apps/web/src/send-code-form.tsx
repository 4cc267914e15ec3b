import { useMutation } from '@tanstack/react-query'
import { useCallback, useEffect, useId, useRef, useState } from 'react'
import type { FormEvent } from 'react'
import { refusalOfIssues } from '@signup/trpc/input-refusal'
import { RET } from '@signup/trpc/ret'
import { sendSmsCodeInput } from '@signup/auth/schemas'
import type { SmsCodePurpose } from '@signup/auth/schemas'
import { maskMobile } from '@signup/sms/log-fields'
import { CaptchaImage } from './captcha-image.tsx'
import { useCountdown } from './countdown.ts'
import { Field, GeneralMessage, INPUTS } from './field.tsx'
import type { Locale, Messages } from './messages.ts'
import { describe, placeRefusal, retryAfterOf } from './problems.ts'
import type { Problem } from './problems.ts'
import { useTRPC } from './trpc.ts'

type FieldName = 'mobile' | 'imageCode'
const FIELDS: readonly FieldName[] = ['mobile', 'imageCode']
type Problems = Partial<Record<FieldName | 'general', Problem>>

/** The problems a failed parse of the send input shows: the page's own words for each field. */
function problemsOfInput(issues: Parameters<typeof refusalOfIssues>[0]): Problems {
  const problems: Problems = {}
  for (const issue of issues) {
    const field = issue.path[0]
    if (field === 'mobile') problems.mobile = { kind: 'client', key: 'mobileInvalid' }
    if (field === 'imageCode') problems.imageCode = { kind: 'client', key: 'imageCodeRequired' }
    if (field === 'imageCodeId') problems.general = { kind: 'client', key: 'captchaUnavailable' }
  }
  if (!problems.mobile && !problems.imageCode && !problems.general) {
    const { errmsg } = refusalOfIssues(issues)
    problems.general = { kind: 'server', errno: RET.PARAMERR, errmsg, field: undefined }
  }
  return problems
}

/**
 * The SMS-code step: mobile number, the captcha from auth.getImageCode (click it for a new one; a
 * new one also comes when it expires and after every send), and the send button, which counts
 * down from `resendIn` (or `retryAfter`) after a send. The code is sent for `purpose` (register
 * by default); `onSent` gets the mobile a code went to.
 */
export function SendCodeForm(props: {
  purpose?: SmsCodePurpose
  t: Messages
  locale: Locale
  onSent: (mobile: string) => void
}) {
  const { purpose = 'register', t, locale, onSent } = props
  const trpc = useTRPC()
  const [mobile, setMobile] = useState('')
  const [imageCode, setImageCode] = useState('')
  const [problems, setProblems] = useState<Problems>({})
  const [sentTo, setSentTo] = useState<string | null>(null)
  const [secondsLeft, startCooldown] = useCountdown()
  const mobileRef = useRef<HTMLInputElement>(null)
  const imageCodeRef = useRef<HTMLInputElement>(null)
  /** Moves the focus to a field of this form (from event handlers, never during render). */
  const focusField = (field: FieldName): void => {
    ;(field === 'mobile' ? mobileRef : imageCodeRef).current?.focus()
  }
  const ids = { general: useId(), status: useId() }

  const captcha = useMutation(trpc.auth.getImageCode.mutationOptions())
  const send = useMutation(trpc.auth.sendSmsCode.mutationOptions())
  const { mutate: fetchCaptcha } = captcha
  const refreshCaptcha = useCallback(() => fetchCaptcha(), [fetchCaptcha])

  useEffect(() => refreshCaptcha(), [refreshCaptcha])
  // A captcha is fetched anew when the old one expires on the server.
  useEffect(() => {
    if (!captcha.data) return
    const timer = setTimeout(refreshCaptcha, captcha.data.expiresIn * 1000)
    return () => clearTimeout(timer)
  }, [captcha.data, refreshCaptcha])

  const busy = send.isPending || secondsLeft > 0

  function onSubmit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault()
    if (busy) return
    const input = { mobile, imageCode, imageCodeId: captcha.data?.imageCodeId ?? '', purpose }
    // The same schema the server parses with, so nothing the server would refuse is sent.
    const parsed = sendSmsCodeInput.safeParse(input)
    if (!parsed.success) {
      const next = problemsOfInput(parsed.error.issues)
      setProblems(next)
      focusField(next.mobile ? 'mobile' : 'imageCode')
      return
    }
    setProblems({})
    setSentTo(null)
    send.mutate(parsed.data, {
      onSuccess: (result) => {
        setSentTo(maskMobile(parsed.data.mobile))
        onSent(parsed.data.mobile)
        startCooldown(result.resendIn)
      },
      onError: (error) => {
        // Typed by the router's error formatter; undefined when the request never got an answer.
        const data = error.data
        const seconds = retryAfterOf(data)
        if (seconds !== null) startCooldown(seconds)
        // A refusal naming no field of this form is about the captcha (expired, wrong).
        const { slot, problem } = placeRefusal(data, FIELDS, 'imageCode')
        setProblems({ [slot]: problem })
        if (slot !== 'general') focusField(slot)
      },
      // The captcha is spent by every send that reached the server: show a new one.
      onSettled: () => {
        setImageCode('')
        refreshCaptcha()
      },
    })
  }

  const buttonLabel = send.isPending
    ? t.sending
    : secondsLeft > 0
      ? t.resendIn(secondsLeft)
      : t.submit
  const captchaProblem: Problem | undefined = captcha.isError
    ? { kind: 'client', key: 'captchaUnavailable' }
    : undefined

  return (
    <form onSubmit={onSubmit} noValidate>
      <Field
        id="mobile"
        label={t.mobileLabel}
        message={describe(problems.mobile, t, locale)}
        invalid={Boolean(problems.mobile)}
        inputRef={mobileRef}
        {...INPUTS.mobile}
        placeholder={t.mobilePlaceholder}
        value={mobile}
        onChange={(event) => setMobile(event.target.value)}
      />
      <Field
        id="imageCode"
        label={t.imageCodeLabel}
        message={describe(problems.imageCode ?? captchaProblem, t, locale)}
        invalid={Boolean(problems.imageCode)}
        inputRef={imageCodeRef}
        type="text"
        autoComplete="off"
        autoCapitalize="characters"
        spellCheck={false}
        maxLength={16}
        placeholder={t.imageCodePlaceholder}
        value={imageCode}
        onChange={(event) => setImageCode(event.target.value)}
        addon={<CaptchaImage image={captcha.data?.image} t={t} onRefresh={refreshCaptcha} />}
      />

      <button
        id="send-code"
        type="submit"
        className="primary"
        disabled={busy}
        aria-describedby={ids.status}
      >
        {buttonLabel}
      </button>
      <div className="status" aria-live="polite">
        <p id={ids.status} className="sent">
          {sentTo === null ? '' : purpose === 'reset' ? t.reset.sentTo(sentTo) : t.sentTo(sentTo)}
        </p>
        <GeneralMessage
          id={ids.general}
          problem={problems.general}
          t={t}
          locale={locale}
          busy={busy}
        />
      </div>
    </form>
  )
}
