import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { createContextInner, appRouter } from '@signup/api/root'
import type { Env } from '@signup/api/env'
import type { Logger } from '@signup/api/logger'
import type { AppServices } from '@signup/api/services'
import {
  legacyImageCode,
  legacyLogin,
  legacyLogout,
  legacyRegister,
  legacySendSmsCode,
  retryAfterHeaders,
} from '@signup/auth/legacy-routes'
import type { LegacyJsonRoute } from '@signup/auth/legacy-routes'
import type { SessionCookie } from '@signup/trpc/context'
import { DomainError } from '@signup/trpc/ret'
import { describeError, maskMobile } from '@signup/sms/log-fields'
import { createHTTPHandler } from '@trpc/server/adapters/standalone'
import { answerLegacy, answerRequestRefusal, answerServerError } from './answers.ts'
import type { RequestRefusal, Surface } from './answers.ts'
import {
  BodyTooLargeError,
  clientIpOf,
  isAllowedOrigin,
  isCrossSiteFetch,
  isJsonContentType,
  MAX_BODY_BYTES,
  MAX_DRAIN_BYTES,
  readBody,
  requestIdOf,
  sendJson,
} from './http-io.ts'
import type { ServerLifecycle } from './graceful-shutdown.ts'
import { securityHeaders } from './security-headers.ts'
import { createSessionCookie } from './session-cookie.ts'
import { STATIC_PREFIX } from './static-assets.ts'

export interface RequestListenerOptions {
  services: AppServices
  env: Pick<Env, 'TRUST_PROXY' | 'ALLOWED_ORIGINS' | 'NODE_ENV' | 'ACCESS_LOG'>
  logger: Logger
  /** Draining (shutting down): /healthz answers 503 at once. Never, unless given. */
  lifecycle?: ServerLifecycle
  /** Development mode relaxes the page CSP for React's dev tooling. */
  dev?: boolean
  /** The build's /_next/static/ files (production): answers false for a path it does not have. */
  staticAssets?: (req: IncomingMessage, res: ServerResponse) => boolean
  /** Everything that is not the API: the Next.js app. */
  fallback: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>
}

/** What a handler knows of the request it answers, established once when the request arrives. */
interface RequestScope {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  clientIp: string | null
  /** The route template that answered (`/passport/sms_code`, `/*` for Next): logs and metrics. */
  route: string
  /** The request's own logger, carrying its request id; made on first use. */
  logger(): Logger
}

type Method = 'GET' | 'HEAD' | 'POST'

interface Route {
  /** An exact path, or a prefix ending in `/*`. */
  path: string
  methods: readonly Method[]
  /** The shape its refusals take. */
  surface: Surface
  /** Origin, content type, body limit and JSON checked first, as one step (jsonPostChecks). */
  jsonPost?: true
  /**
   * Its GET changes state (the original's GET /passport/logout): with jsonPost's checks, a GET
   * that a browser says another site made is refused too (docs/http-api.md, Logout).
   */
  stateChangingGet?: true
  /** `body` is the parsed JSON body of a POST that passed the checks. */
  handle(scope: RequestScope, body: unknown): void | Promise<void>
}

/**
 * The one production server's router (docs/contract.md section 3): the API paths go straight to their
 * handlers, off Next's request path; every other path goes to Next.
 */
export function createRequestListener(options: RequestListenerOptions): RequestListener {
  const { services, env, logger, fallback } = options
  const pageHeaders = securityHeaders(options.dev ?? false)
  const secure = env.NODE_ENV === 'production'
  const scopes = new WeakMap<IncomingMessage, RequestScope>()
  /** The auth services with the request's logger, so their lines carry its request id. */
  const authOf = (scope: RequestScope) => ({ ...services.auth, logger: scope.logger() })
  const sessionOf = (scope: RequestScope) => createSessionCookie(scope.req, scope.res, { secure })

  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/api/trpc/',
    // One call per request, so each is counted against the limits like any other request: neither
    // of our clients batches, and a batch of 900 calls was 900 calls for one request (issue 14).
    allowBatching: false,
    createContext: ({ req }) => {
      const scope = scopes.get(req)
      if (!scope) throw new Error('tRPC request outside the router')
      return createContextInner({
        services,
        clientIp: scope.clientIp,
        session: sessionOf(scope),
        logger: scope.logger(),
      })
    },
    // A rate-limited call says when to retry in the header too, as the legacy routes do.
    responseMeta: ({ errors }) => {
      const retryAfter = Math.max(
        0,
        ...errors.map((error) =>
          error.cause instanceof DomainError ? (error.cause.retryAfter ?? 0) : 0,
        ),
      )
      return { headers: retryAfterHeaders(retryAfter > 0 ? retryAfter : undefined) }
    },
    onError: ({ error, path, req, input }) => {
      // Refusals are expected outcomes; only server faults are worth an operator's attention.
      if (error.code === 'INTERNAL_SERVER_ERROR' || error.code === 'BAD_GATEWAY') {
        const mobile = (input as { mobile?: unknown } | undefined)?.mobile
        scopes
          .get(req)
          ?.logger()
          .error(
            {
              err: error.cause ?? error,
              cause: describeError(error.cause?.cause ?? error.cause ?? error),
              path,
              ...(typeof mobile === 'string' ? { mobile: maskMobile(mobile) } : {}),
            },
            'trpc procedure failed',
          )
      }
    },
  })

  /** A legacy JSON route, with the request's client address and session cookie. */
  const legacyJson =
    (run: LegacyJsonRoute<{ clientIp: string | null; session: SessionCookie }>): Route['handle'] =>
    async (scope, body) => {
      const request = { clientIp: scope.clientIp, session: sessionOf(scope) }
      // A GET has no body: it is the route's call with no fields.
      const fields = scope.req.method === 'GET' ? {} : body
      answerLegacy(scope.res, await run(authOf(scope), fields, request))
    }

  const routes: readonly Route[] = [
    { path: '/livez', methods: ['GET', 'HEAD'], surface: 'legacy', handle: live },
    { path: '/healthz', methods: ['GET', 'HEAD'], surface: 'legacy', handle: health },
    {
      path: '/passport/image_code',
      methods: ['GET', 'HEAD'],
      surface: 'legacy',
      handle: imageCode,
    },
    {
      path: '/passport/sms_code',
      methods: ['POST'],
      surface: 'legacy',
      jsonPost: true,
      handle: legacyJson(legacySendSmsCode),
    },
    {
      path: '/passport/register',
      methods: ['POST'],
      surface: 'legacy',
      jsonPost: true,
      handle: legacyJson(legacyRegister),
    },
    {
      path: '/passport/login',
      methods: ['POST'],
      surface: 'legacy',
      jsonPost: true,
      handle: legacyJson(legacyLogin),
    },
    {
      path: '/passport/logout',
      methods: ['GET', 'POST'],
      surface: 'legacy',
      jsonPost: true,
      stateChangingGet: true,
      handle: legacyJson(legacyLogout),
    },
    { path: '/api/trpc/*', methods: ['GET', 'POST'], surface: 'trpc', jsonPost: true, handle: api },
    { path: '/passport/*', methods: ['GET', 'HEAD', 'POST'], surface: 'legacy', handle: notFound },
  ]

  /** The process serves requests, whatever its stores do (docs/contract.md section 11). */
  function live({ res }: RequestScope): void {
    sendJson(res, 200, { status: 'ok' })
  }

  /**
   * Ready: the stores answer, each within HEALTH_CHECK_TIMEOUT_MS (`timeout` names one that did
   * not). Once draining, 503 at once, so a load balancer sends this instance nothing new.
   */
  async function health({ res }: RequestScope): Promise<void> {
    if (options.lifecycle?.draining) return sendJson(res, 503, { status: 'draining', down: [] })
    const report = await services.health()
    const down = Object.entries(report.checks)
      .filter(([, state]) => state !== 'ok')
      .map(([name]) => name)
    sendJson(res, report.ok ? 200 : 503, {
      status: report.ok ? 'ok' : 'down',
      ...report.checks,
      down,
    })
  }

  async function imageCode(scope: RequestScope): Promise<void> {
    const { req, res, url } = scope
    const id = url.searchParams.get('imageCodeId')
    const result = await legacyImageCode(authOf(scope), id, { clientIp: scope.clientIp })
    if (result.kind === 'json') return answerLegacy(res, result.response)
    res.writeHead(200, {
      'content-type': 'image/png',
      'content-length': result.png.length,
      'cache-control': 'no-store',
      // Another site's page cannot embed the captcha (and have its user solve it for that site).
      'cross-origin-resource-policy': 'same-origin',
    })
    res.end(req.method === 'HEAD' ? undefined : result.png)
  }

  function api({ req, res }: RequestScope, body: unknown): void {
    // tRPC reads the body the checks already read; answers depend on the session cookie
    // (auth.me), so they are never cached, not even by the browser.
    if (body !== undefined) Object.assign(req, { body })
    res.setHeader('cache-control', 'no-store')
    void trpc(req, res)
  }

  function notFound({ res }: RequestScope): void {
    answerRequestRefusal(res, 'legacy', 'not-found')
  }

  async function page(scope: RequestScope): Promise<void> {
    const { req, res } = scope
    if (options.staticAssets?.(req, res)) {
      scope.route = `${STATIC_PREFIX}*`
      return
    }
    for (const [name, value] of Object.entries(pageHeaders)) res.setHeader(name, value)
    await fallback(req, res)
  }

  /**
   * The checks every JSON POST route shares, as one step: a cross-site Origin is refused (for
   * any method), and so is a state-changing GET another site made; a POST must be JSON within
   * MAX_BODY_BYTES. Answers the body (still as text for tRPC, which parses it itself), or null
   * once it has answered the refusal.
   */
  async function jsonPostChecks(
    { req, res }: RequestScope,
    route: Route,
  ): Promise<{ body: unknown } | null> {
    const { surface } = route
    const refuse = (refusal: RequestRefusal, headers?: Record<string, string>): null => {
      answerRequestRefusal(res, surface, refusal, headers)
      return null
    }
    if (!isAllowedOrigin(req, env.ALLOWED_ORIGINS, env.TRUST_PROXY)) return refuse('cross-origin')
    if (req.method === 'GET' && route.stateChangingGet && isCrossSiteFetch(req)) {
      return refuse('cross-origin')
    }
    if (req.method !== 'POST') return { body: undefined }
    if (!isJsonContentType(req.headers['content-type'])) return refuse('not-json')
    let text: string
    try {
      text = await readBody(req, MAX_BODY_BYTES)
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error
      const declared = req.headers['content-length']
      // A chunked body of unknown size is not drained: the connection closes after the 413.
      const drained = declared !== undefined && Number(declared) <= MAX_DRAIN_BYTES
      return refuse('too-large', drained ? {} : { connection: 'close' })
    }
    if (surface === 'trpc') return { body: text }
    try {
      return { body: JSON.parse(text) as unknown }
    } catch {
      return refuse('malformed')
    }
  }

  /** tRPC's procedures by path, so the route template can name the one called. */
  const procedures = new Set(Object.keys(appRouter._def.procedures))

  /** A route's template: its path, or for tRPC the procedure when it is one of the router's. */
  function templateOf(route: Route, pathname: string): string {
    if (route.surface !== 'trpc') return route.path
    const procedure = pathname.slice(route.path.length - 1)
    return procedures.has(procedure) ? `${route.path.slice(0, -1)}${procedure}` : route.path
  }

  function routeOf(pathname: string): Route | undefined {
    return routes.find((route) =>
      route.path.endsWith('/*')
        ? pathname.startsWith(route.path.slice(0, -1))
        : pathname === route.path,
    )
  }

  async function dispatch(scope: RequestScope): Promise<void> {
    const route = routeOf(scope.url.pathname)
    if (!route) return page(scope)
    scope.route = templateOf(route, scope.url.pathname)
    if (!route.methods.includes(scope.req.method as Method)) {
      const allow = route.methods.join(', ')
      return answerRequestRefusal(scope.res, route.surface, 'method-not-allowed', { allow })
    }
    const checked = route.jsonPost ? await jsonPostChecks(scope, route) : { body: undefined }
    if (checked) await route.handle(scope, checked.body)
  }

  const metrics = services.metrics.http
  const observed = env.ACCESS_LOG || services.metrics.registry !== null
  // Its fields are fixed names, numbers and the request id: the redaction every other line goes
  // through (logger.ts) would double what a line costs (about 4 µs more, measured with pino 10).
  const accessLogger = logger.child({}, { redact: [] })

  /**
   * Once the answer is finished (or the connection gone first): the access log's one line and
   * the HTTP metrics, by route template, so neither holds a query value, a mobile or an id.
   */
  function finished(scope: RequestScope, requestId: string, started: number): void {
    const { req, res, route } = scope
    const seconds = (performance.now() - started) / 1000
    const method = req.method ?? 'GET'
    const completed = res.writableFinished
    metrics.request(route, method, completed ? String(res.statusCode) : 'aborted', seconds)
    if (!env.ACCESS_LOG) return
    const line: Record<string, unknown> = {
      reqId: requestId,
      method,
      route,
      status: res.statusCode,
      ms: Math.round(seconds * 10_000) / 10,
    }
    if (!completed) line.aborted = true
    accessLogger.info(line, 'request')
  }

  return (req, res) => {
    const started = performance.now()
    const requestId = requestIdOf(req)
    res.setHeader('x-request-id', requestId)
    let child: Logger | undefined
    const scope: RequestScope = {
      req,
      res,
      url: new URL(req.url ?? '/', 'http://localhost'),
      clientIp: clientIpOf(req, env.TRUST_PROXY, (entry) => {
        logger.warn(
          { reqId: requestId, forwardedFor: entry.slice(0, 100), socket: req.socket.remoteAddress },
          'X-Forwarded-For entry is not an address; the per-IP limits count the socket address',
        )
      }),
      // Until the router finds a route, the request is Next's.
      route: '/*',
      // Most requests never log a line: the child logger is made on first use.
      logger: () => (child ??= logger.child({ reqId: requestId })),
    }
    scopes.set(req, scope)
    if (observed) res.once('close', () => finished(scope, requestId, started))
    dispatch(scope).catch((error: unknown) => {
      scope.logger().error({ err: error, url: req.url }, 'request failed')
      if (!res.headersSent) answerServerError(res)
      else res.destroy()
    })
  }
}
