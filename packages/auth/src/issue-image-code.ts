import { createCaptchaText, renderCaptchaPng } from './captcha-image.ts'
import { AuthError } from './auth-error.ts'
import { countOutcome } from './metrics.ts'
import { RET_MESSAGE } from '@signup/trpc/ret'
import type { AuthServices } from './ports.ts'

/**
 * DBERR's errmsg whenever the captcha store fails, counting a captcha or keeping its answer here
 * and taking it back on a send (docs/contract.md section 2 names this one, never a 保存 form).
 */
export const CAPTCHA_STORE_FAILED = '获取图片验证码失败'

/** A server-issued id that is taken (one in 2^60 draws) is drawn again, this many times at most. */
const ID_DRAWS = 3

export interface ImageCode {
  imageCodeId: string
  png: Buffer
  /** Seconds until the captcha expires. */
  expiresIn: number
}

type ImageCodeServices = Pick<
  AuthServices,
  'captchaStore' | 'captchaIds' | 'random' | 'config' | 'captchaLimiter' | 'metrics'
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
 * Draws a new captcha and stores its answer under its id. Without an id (auth.getImageCode) the
 * server issues one (captcha-ids.ts) and stores it only if it is new; with one (the legacy route,
 * where the client picks it) the answer replaces any earlier one with that id, as the original's
 * did, unless the id is one the server issued: that is refused (PARAMERR), so no client can
 * replace the answer of another's captcha from the legacy route. The client's captchas per minute
 * are counted first, since drawing one costs CPU (REQERR past the limit).
 */
async function issueImageCodeSteps(
  services: ImageCodeServices,
  request: { clientIp: string | null; imageCodeId?: string },
): Promise<ImageCode> {
  const { captchaStore, captchaIds } = services
  const clientId = request.imageCodeId
  if (clientId !== undefined && captchaIds.isServerIssued(clientId)) {
    throw new AuthError('PARAMERR', RET_MESSAGE.PARAMERR, { field: 'imageCodeId' })
  }
  const refused = await services.captchaLimiter.take(request.clientIp).catch((cause: unknown) => {
    throw new AuthError('DBERR', CAPTCHA_STORE_FAILED, { cause })
  })
  if (refused) {
    services.metrics.limitRefusal('captcha-ip-minute')
    throw new AuthError('REQERR', RET_MESSAGE.REQERR, { retryAfter: refused.retryAfter })
  }
  const text = createCaptchaText((max) => services.random.int(max))
  const png = renderCaptchaPng(text)
  const expiresIn = services.config.imageCodeTtlSeconds
  try {
    if (clientId !== undefined) {
      await captchaStore.save(clientId, text, expiresIn)
      return { imageCodeId: clientId, png, expiresIn }
    }
    for (let draw = 0; draw < ID_DRAWS; draw++) {
      const imageCodeId = captchaIds.issue()
      if (await captchaStore.create(imageCodeId, text, expiresIn)) {
        return { imageCodeId, png, expiresIn }
      }
    }
  } catch (cause) {
    throw new AuthError('DBERR', CAPTCHA_STORE_FAILED, { cause })
  }
  throw new AuthError('DBERR', CAPTCHA_STORE_FAILED)
}
