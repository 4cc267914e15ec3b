import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { createContextInner, appRouter } from '@signup/api/root'
import type { Env } from '@signup/api/env'
import type { Logger } from '@signup/api/logger'
import type { AppServices } from '@signup/api/services'
import {
  legacyImageCode,
  legacyRegister,
  legacyRejection,
  legacySendSmsCode,
} from '@signup/auth/legacy-routes'
import type { LegacyJsonResponse } from '@signup/auth/legacy-routes'
import { AuthError, RET, RET_MESSAGE } from '@signup/auth/ret'
import { createHTTPHandler } from '@trpc/server/adapters/standalone'
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc'
import {
  BodyTooLargeError,
  clientIpOf,
  isAllowedOrigin,
  isJsonContentType,
  MAX_BODY_BYTES,
  MAX_DRAIN_BYTES,
  readBody,
  requestIdOf,
  sendJson,
} from './http-io.ts'
import { securityHeaders } from './security-headers.ts'
import { createSessionCookie } from './session-cookie.ts'

export interface RequestListenerOptions {
  services: AppServices
  env: Pick<Env, 'TRUST_PROXY' | 'ALLOWED_ORIGINS' | 'NODE_ENV'>
  logger: Logger
  /** Development mode relaxes the page CSP for React's dev tooling. */
  dev?: boolean
  /** The build's /_next/static/ files (production): answers false for a path it does not have. */
  staticAssets?: (req: IncomingMessage, res: ServerResponse) => boolean
  /** Everything that is not the API: the Next.js app. */
  fallback: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>
}

/**
 * The one production server's router (CONTRACT section 3): the API paths go straight to their
 * handlers, off Next's request path; every other path goes to Next.
 */
export function createRequestListener(options: RequestListenerOptions): RequestListener {
  const { services, env, logger, fallback } = options
  const pageHeaders = securityHeaders(options.dev ?? false)
  const sessionCookie = (req: IncomingMessage, res: ServerResponse) =>
    createSessionCookie(req, res, { secure: env.NODE_ENV === 'production' })

  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/api/trpc/',
    maxBodySize: MAX_BODY_BYTES,
    createContext: ({ req, res }) =>
      createContextInner({
        services,
        clientIp: clientIpOf(req, env.TRUST_PROXY),
        session: sessionCookie(req, res),
        logger: requestLogger(req),
      }),
    // A rate-limited call says when to retry in the header too, as the legacy routes do.
    responseMeta: ({ errors }) => {
      const retryAfter = errors.reduce(
        (latest, error) =>
          error.cause instanceof AuthError && error.cause.retryAfter !== undefined
            ? Math.max(latest, error.cause.retryAfter)
            : latest,
        0,
      )
      return retryAfter > 0 ? { headers: { 'retry-after': String(retryAfter) } } : {}
    },
    onError: ({ error, path, req }) => {
      // Refusals are expected outcomes; only server faults are worth an operator's attention.
      if (error.code === 'INTERNAL_SERVER_ERROR' || error.code === 'BAD_GATEWAY') {
        requestLogger(req).error({ err: error.cause ?? error, path }, 'trpc procedure failed')
      }
    },
  })

  // One child logger per request, made on first use: most requests never log a line.
  const requestLoggers = new WeakMap<IncomingMessage, Logger>()
  const requestIds = new WeakMap<IncomingMessage, string>()
  const requestLogger = (req: IncomingMessage): Logger => {
    let child = requestLoggers.get(req)
    if (!child) {
      child = logger.child({ reqId: requestIds.get(req) ?? requestIdOf(req) })
      requestLoggers.set(req, child)
    }
    return child
  }
  const requestAuth = (req: IncomingMessage) => ({
    ...services.auth,
    logger: requestLogger(req),
  })

  const answer = (res: ServerResponse, response: LegacyJsonResponse): void => {
    sendJson(res, response.status, response.body, response.headers)
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const { pathname } = url
    const requestId = requestIdOf(req)
    requestIds.set(req, requestId)
    res.setHeader('x-request-id', requestId)
    const clientIp = clientIpOf(req, env.TRUST_PROXY)

    if (pathname === '/healthz') {
      const report = await services.health()
      const down = Object.entries(report.checks)
        .filter(([, state]) => state !== 'ok')
        .map(([name]) => name)
      sendJson(res, report.ok ? 200 : 503, {
        status: report.ok ? 'ok' : 'down',
        ...report.checks,
        down,
      })
      return
    }

    if (pathname.startsWith('/api/trpc/')) {
      if (!isAllowedOrigin(req, env.ALLOWED_ORIGINS)) {
        sendJson(res, 403, trpcRefusal('FORBIDDEN', 403))
        return
      }
      if (req.method === 'POST' && !isJsonContentType(req.headers['content-type'])) {
        sendJson(res, 415, trpcRefusal('UNSUPPORTED_MEDIA_TYPE', 415))
        return
      }
      // Answers depend on the session cookie (auth.me): never cached, not even by the browser.
      res.setHeader('cache-control', 'no-store')
      trpc(req, res)
      return
    }

    if (pathname === '/passport/sms_code' || pathname === '/passport/register') {
      if (req.method !== 'POST') return answer(res, legacyRejection(405))
      if (!isAllowedOrigin(req, env.ALLOWED_ORIGINS)) return answer(res, legacyRejection(403))
      if (!isJsonContentType(req.headers['content-type'])) return answer(res, legacyRejection(400))
      let body: unknown
      try {
        body = JSON.parse(await readBody(req))
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          const declared = req.headers['content-length']
          // A chunked body of unknown size is not drained: the connection closes after the 413.
          if (declared === undefined || Number(declared) > MAX_DRAIN_BYTES) {
            res.setHeader('connection', 'close')
          }
          return answer(res, legacyRejection(413))
        }
        return answer(res, legacyRejection(400))
      }
      const response =
        pathname === '/passport/register'
          ? await legacyRegister(requestAuth(req), body, sessionCookie(req, res))
          : await legacySendSmsCode(requestAuth(req), body, { clientIp })
      return answer(res, response)
    }

    if (pathname === '/passport/image_code') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, legacyRejection(405))
      const result = await legacyImageCode(requestAuth(req), url.searchParams.get('imageCodeId'), {
        clientIp,
      })
      if (result.kind === 'json') return answer(res, result.response)
      res.writeHead(200, {
        'content-type': 'image/png',
        'content-length': result.png.length,
        'cache-control': 'no-store',
      })
      res.end(req.method === 'HEAD' ? undefined : result.png)
      return
    }

    if (pathname.startsWith('/passport/')) return answer(res, legacyRejection(404))

    if (options.staticAssets?.(req, res)) return

    for (const [name, value] of Object.entries(pageHeaders)) res.setHeader(name, value)
    await fallback(req, res)
  }

  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      requestLogger(req).error({ err: error, url: req.url }, 'request failed')
      if (!res.headersSent) {
        sendJson(res, 500, { errno: RET.SERVERERR, errmsg: RET_MESSAGE.SERVERERR })
      } else {
        res.destroy()
      }
    })
  }
}

/** The body a tRPC client expects for a refusal made before tRPC saw the request. */
function trpcRefusal(code: 'FORBIDDEN' | 'UNSUPPORTED_MEDIA_TYPE', httpStatus: number) {
  return {
    error: {
      message: RET_MESSAGE.PARAMERR,
      code: TRPC_ERROR_CODES_BY_KEY[code],
      data: { code, httpStatus, errno: RET.PARAMERR, errmsg: RET_MESSAGE.PARAMERR },
    },
  }
}
