import type { Messages } from './messages.ts'

/** The captcha as a button: a click asks for a new one. */
export function CaptchaImage(props: {
  /** The data URL from auth.getImageCode; undefined while none is loaded. */
  image: string | undefined
  t: Messages
  onRefresh: () => void
}) {
  const { image, t, onRefresh } = props
  return (
    <button
      type="button"
      className="captcha"
      onClick={onRefresh}
      title={t.captchaRefresh}
      aria-label={t.captchaRefresh}
    >
      {image ? (
        // A data URL from the API: next/image would add nothing here.
        <img src={image} alt={t.captchaAlt} width={120} height={40} data-testid="captcha-image" />
      ) : (
        <span className="captcha-placeholder">{t.captchaLoading}</span>
      )}
    </button>
  )
}
