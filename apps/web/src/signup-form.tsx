import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useId, useRef, useState } from 'react'
import type { FormEvent } from 'react'
import { RET } from '@signup/trpc/ret'
import { refusalOfIssues } from '@signup/trpc/input-refusal'
import { sendSmsCodeInput } from '@signup/auth/schemas'
import { maskMobile } from '@signup/sms/log-fields'
import { Field } from './field.tsx'
import { MESSAGES } from './messages.ts'
import type { Locale } from './messages.ts'
import { describe, placeRefusal } from './problems.ts'
import type { Problem } from './problems.ts'
import { RegisterForm, SignedIn } from './register-form.tsx'
import { useTRPC } from './trpc.ts'
import type { SignedInUser } from './trpc.ts'

type FieldName = 'mobile' | 'imageCode'
const FIELDS: readonly FieldName[] = ['mobile', 'imageCode']

/**
 * The seconds left of a countdown, re-rendered as they tick, and a setter that starts one of
 * `seconds` from now (or stops it with null). The clock is read where the countdown is started, so
 * its first render already shows the full count.
 */
function useCountdown(): [secondsLeft: number, start: (seconds: number | null) => void] {
  const [end, setEnd] = useState<number | null>(null)
  const [now, setNow] = useState(0)
  useEffect(() => {
    if (end === null) return
    const timer = setInterval(() => setNow(Date.now()), 250)
    return () => clearInterval(timer)
  }, [end])
  const start = useCallback((seconds: number | null) => {
    const startedAt = Date.now()
    setNow(startedAt)
    setEnd(seconds === null ? null : startedAt + seconds * 1000)
  }, [])
  return [end === null ? 0 : Math.max(0, Math.ceil((end - now) / 1000)), start]
}

export function SignupForm() {
  const trpc = useTRPC()
  const [locale, setLocale] = useState<Locale>('zh-CN')
  const t = MESSAGES[locale]
  const [mobile, setMobile] = useState('')
  const [imageCode, setImageCode] = useState('')
  const [problems, setProblems] = useState<Partial<Record<FieldName | 'general', Problem>>>({})
  const [sentTo, setSentTo] = useState<string | null>(null)
  const [sentMobile, setSentMobile] = useState<string | null>(null)
  const queryClient = useQueryClient()
  const me = useQuery(trpc.auth.me.queryOptions())
  const setSignedIn = (user: SignedInUser | null): void => {
    queryClient.setQueryData(trpc.auth.me.queryKey(), user)
  }
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

  useEffect(() => {
    // Lets `pnpm bench` tell when the form became interactive.
    performance.mark('signup:hydrated')
  }, [])
  useEffect(() => refreshCaptcha(), [refreshCaptcha])
  // A captcha is fetched anew when the old one expires on the server.
  useEffect(() => {
    if (!captcha.data) return
    const timer = setTimeout(refreshCaptcha, captcha.data.expiresIn * 1000)
    return () => clearTimeout(timer)
  }, [captcha.data, refreshCaptcha])
  useEffect(() => {
    document.documentElement.lang = locale
  }, [locale])

  const busy = send.isPending || secondsLeft > 0

  function onSubmit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault()
    if (busy) return
    const input = { mobile, imageCode, imageCodeId: captcha.data?.imageCodeId ?? '' }
    // The same schema the server parses with, so nothing the server would refuse is sent.
    const parsed = sendSmsCodeInput.safeParse(input)
    if (!parsed.success) {
      const next: Partial<Record<FieldName | 'general', Problem>> = {}
      for (const issue of parsed.error.issues) {
        const field = issue.path[0]
        if (field === 'mobile') next.mobile = { kind: 'client', key: 'mobileInvalid' }
        if (field === 'imageCode') next.imageCode = { kind: 'client', key: 'imageCodeRequired' }
        if (field === 'imageCodeId') next.general = { kind: 'client', key: 'captchaUnavailable' }
      }
      if (!next.mobile && !next.imageCode && !next.general) {
        const { errmsg } = refusalOfIssues(parsed.error.issues)
        next.general = { kind: 'server', errno: RET.PARAMERR, errmsg, field: undefined }
      }
      setProblems(next)
      focusField(next.mobile ? 'mobile' : 'imageCode')
      return
    }
    setProblems({})
    setSentTo(null)
    send.mutate(parsed.data, {
      onSuccess: (result) => {
        setSentTo(maskMobile(parsed.data.mobile))
        setSentMobile(parsed.data.mobile)
        startCooldown(result.resendIn)
      },
      onError: (error) => {
        // Typed by the router's error formatter; undefined when the request never got an answer.
        const data = error.data
        if (data?.errno === RET.REQERR && typeof data.retryAfter === 'number') {
          startCooldown(data.retryAfter)
        }
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
    <main className="page">
      <div className="card">
        <div className="card-head">
          <h1>{t.title}</h1>
          <button
            type="button"
            className="link-button"
            lang={locale === 'zh-CN' ? 'en' : 'zh-CN'}
            onClick={() => setLocale(locale === 'zh-CN' ? 'en' : 'zh-CN')}
          >
            {t.switchLanguage}
          </button>
        </div>
        {me.data ? (
          <SignedIn
            user={me.data}
            t={t}
            onSignedOut={() => {
              setSignedIn(null)
              setSentTo(null)
              setSentMobile(null)
              startCooldown(null)
            }}
          />
        ) : (
          <>
            <p className="subtitle">{t.subtitle}</p>

            <form onSubmit={onSubmit} noValidate>
              <Field
                id="mobile"
                label={t.mobileLabel}
                message={describe(problems.mobile, t, locale)}
                invalid={Boolean(problems.mobile)}
                inputRef={mobileRef}
                type="tel"
                inputMode="numeric"
                autoComplete="tel-national"
                maxLength={14}
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
                addon={
                  <button
                    type="button"
                    className="captcha"
                    onClick={refreshCaptcha}
                    title={t.captchaRefresh}
                    aria-label={t.captchaRefresh}
                  >
                    {captcha.data ? (
                      // A data URL from the API: next/image would add nothing here.
                      <img
                        src={captcha.data.image}
                        alt={t.captchaAlt}
                        width={120}
                        height={40}
                        data-testid="captcha-image"
                      />
                    ) : (
                      <span className="captcha-placeholder">{t.captchaLoading}</span>
                    )}
                  </button>
                }
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
                  {sentTo ? t.sentTo(sentTo) : ''}
                </p>
                <p id={ids.general} className="general-message">
                  {describe(problems.general, t, locale)}
                  {problems.general ? (
                    <button type="submit" className="link-button retry" disabled={busy}>
                      {t.retry}
                    </button>
                  ) : null}
                </p>
              </div>
            </form>
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
        )}
      </div>
    </main>
  )
}
