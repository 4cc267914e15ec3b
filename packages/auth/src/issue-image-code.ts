import { createCaptchaText, renderCaptchaPng } from './captcha-image.ts'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import { RET_MESSAGE } from '@signup/trpc/ret'
import type { AuthServices } from './ports.ts'

export const IMAGE_CODE_STORE_FAILED = '保存图片验证码失败'
export const IMAGE_CODE_LIMIT_FAILED = '获取图片验证码失败'

export interface ImageCode {
  imageCodeId: string
  png: Buffer
  /** Seconds until the captcha expires. */
  expiresIn: number
}

type ImageCodeServices = Pick<
  AuthServices,
  'captchaStore' | 'random' | 'config' | 'captchaLimiter' | 'metrics'
>

/** Issues a captcha (issueImageCodeSteps), counting how each request ended for /metrics. */
export function issueImageCode(
  services: ImageCodeServices,
  request: { clientIp: string | null; imageCodeId?: string },
): Promise<ImageCode> {
  return countOutcome(
    (outcome) => services.metrics.captchaImage(outcome),
    () => issueImageCodeSteps(services, request),
  )
}

/**
 * Draws a new captcha and stores its answer under the id, replacing any earlier one with that id.
 * The id is the client's on the legacy route and a fresh UUID on the tRPC procedure. The client's
 * captchas per minute are counted first, since drawing one costs CPU (REQERR past the limit).
 */
async function issueImageCodeSteps(
  services: ImageCodeServices,
  request: { clientIp: string | null; imageCodeId?: string },
): Promise<ImageCode> {
  const refused = await services.captchaLimiter.take(request.clientIp).catch((cause: unknown) => {
    throw new AuthError('DBERR', IMAGE_CODE_LIMIT_FAILED, { cause })
  })
  if (refused) {
    services.metrics.limitRefusal('captcha-ip-minute')
    throw new AuthError('REQERR', RET_MESSAGE.REQERR, { retryAfter: refused.retryAfter })
  }
  const imageCodeId = request.imageCodeId ?? services.random.uuid()
  const text = createCaptchaText((max) => services.random.int(max))
  const png = renderCaptchaPng(text)
  const expiresIn = services.config.imageCodeTtlSeconds
  try {
    await services.captchaStore.save(imageCodeId, text, expiresIn)
  } catch (cause) {
    throw new AuthError('DBERR', IMAGE_CODE_STORE_FAILED, { cause })
  }
  return { imageCodeId, png, expiresIn }
}
