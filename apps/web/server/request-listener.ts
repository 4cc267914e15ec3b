import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
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
import type { AuthServices } from '@signup/auth/ports'
import type { SessionCookie } from '@signup/trpc/context'
import { DomainError, RET, RET_MESSAGE } from '@signup/trpc/ret'
import { describeError, maskMobile } from '@signup/sms/log-fields'
import type { AnyProcedure } from '@trpc/server'
import { createHTTPHandler } from '@trpc/server/adapters/standalone'
import { answerLegacy, answerRequestRefusal, answerServerError } from './answers.ts'
import type { RequestRefusal, Surface } from './answers.ts'
import {
  BodyTooLargeError,
  clientIpOf,
  hasPlainHost,
  isAllowedOrigin,
  isCrossSiteFetch,
  isJsonContentType,
  MAX_BODY_BYTES,
  MAX_DRAIN_BYTES,
  readBody,
  requestIdOf,
  sendJson,
  targetUrl,
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

/** What `OPTIONS *` answers: the methods this server's resources take (RFC 9110 section 9.3.7). */
const SERVER_METHODS = 'GET, HEAD, POST'

/** The route template of a request whose target is not a path: no route can answer it. */
const NO_PATH_ROUTE = '*'

/**
 * Each tRPC procedure by path, with the one method it takes: GET a query, POST a mutation. (The
 * router keeps its procedures flat by dotted path, which its type, nested by router, does not say.)
 */
const procedureMethods = new Map<string, Method>(
  Object.entries(appRouter._def.procedures as unknown as Record<string, AnyProcedure>).map(
    ([path, procedure]) => [path, procedure._def.type === 'query' ? 'GET' : 'POST'],
  ),
)

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
  const authOf = (scope: RequestScope): AuthServices => withLogger(services.auth, scope.logger())
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
    // A rate-limited call says when to retry in the header too, as the legacy routes do; a 405
    // (a GET of a mutation, a POST of a query) names the method the procedure takes.
    responseMeta: ({ errors, paths }) => {
      const retryAfter = Math.max(
        0,
        ...errors.map((error) =>
          error.cause instanceof DomainError ? (error.cause.retryAfter ?? 0) : 0,
        ),
      )
      const headers = retryAfterHeaders(retryAfter > 0 ? retryAfter : undefined)
      const method = paths?.length === 1 ? procedureMethods.get(paths[0] ?? '') : undefined
      if (method && errors.some((error) => error.code === 'METHOD_NOT_SUPPORTED')) {
        return { headers: { ...headers, allow: method } }
      }
      return { headers }
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

  function api(scope: RequestScope, body: unknown): void {
    const { req, res } = scope
    // tRPC reads the body the checks already read; answers depend on the session cookie
    // (auth.me), so they are never cached, not even by the browser.
    if (body !== undefined) Object.assign(req, { body })
    res.setHeader('cache-control', 'no-store')
    // Only tRPC's callbacks look a request's scope up: an entry per request in a WeakMap costs
    // every young-generation GC (decision record 021), so the other routes make none.
    scopes.set(req, scope)
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

  /** A route's template: its path, or for tRPC the procedure when it is one of the router's. */
  function templateOf(route: Route, pathname: string): string {
    if (route.surface !== 'trpc') return route.path
    const procedure = pathname.slice(route.path.length - 1)
    return procedureMethods.has(procedure) ? `${route.path.slice(0, -1)}${procedure}` : route.path
  }

  /** What a 405 names in Allow: the route's methods, or the one a known procedure takes. */
  function allowOf(route: Route, pathname: string): string {
    const procedure = route.surface === 'trpc' ? pathname.slice(route.path.length - 1) : ''
    return procedureMethods.get(procedure) ?? route.methods.join(', ')
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
    // Every route and Next build URLs from Host (tRPC's adapter threw on `user@host`: a 500).
    if (!hasPlainHost(scope.req)) {
      return answerRequestRefusal(scope.res, route?.surface ?? 'legacy', 'bad-host')
    }
    if (!route) return page(scope)
    scope.route = templateOf(route, scope.url.pathname)
    if (!route.methods.includes(scope.req.method as Method)) {
      const allow = allowOf(route, scope.url.pathname)
      return answerRequestRefusal(scope.res, route.surface, 'method-not-allowed', { allow })
    }
    const checked = route.jsonPost ? await jsonPostChecks(scope, route) : { body: undefined }
    if (checked) await route.handle(scope, checked.body)
  }

  const record = createAnswerRecorder(options)

  /** Once the answer is finished (or the connection gone first): it is recorded. */
  function finished(scope: RequestScope, requestId: string, started: number): void {
    const { req, res, route } = scope
    record?.({
      requestId,
      method: req.method ?? 'GET',
      route,
      status: res.statusCode,
      seconds: (performance.now() - started) / 1000,
      aborted: !res.writableFinished,
    })
  }

  /**
   * A request whose target is not a path (RFC 9112 section 3.2): `OPTIONS *` asks about the
   * server itself, and is answered so; any other (`GET *x`, the absolute form `GET http://host/`
   * that proxies take, CONNECT's `host:port`) is refused with 400. Next answered the first kind
   * with a 500 and a stack trace, and redirected the absolute form to the host it named.
   */
  function notAPath({ req, res }: RequestScope): void {
    if (req.method === 'OPTIONS' && req.url === '*') {
      res.writeHead(200, { allow: SERVER_METHODS, 'content-length': 0 })
      res.end()
      return
    }
    answerRequestRefusal(res, 'legacy', 'bad-target')
  }

  return (req, res) => {
    const started = performance.now()
    const requestId = requestIdOf(req)
    res.setHeader('x-request-id', requestId)
    let child: Logger | undefined
    const url = targetUrl(req.url)
    const scope: RequestScope = {
      req,
      res,
      url: url ?? new URL('http://localhost/'),
      clientIp: clientIpOf(req, env.TRUST_PROXY, (entry) => {
        logger.warn(
          { reqId: requestId, forwardedFor: entry.slice(0, 100), socket: req.socket.remoteAddress },
          'X-Forwarded-For entry is not an address; the per-IP limits count the socket address',
        )
      }),
      // Until the router finds a route, the request is Next's.
      route: url ? '/*' : NO_PATH_ROUTE,
      // Most requests never log a line: the child logger is made on first use.
      logger: () => (child ??= logger.child({ reqId: requestId })),
    }
    if (record) res.once('close', () => finished(scope, requestId, started))
    if (!url) return notAPath(scope)
    dispatch(scope).catch((error: unknown) => {
      scope.logger().error({ err: error, url: req.url }, 'request failed')
      if (!res.headersSent) answerServerError(res)
      else res.destroy()
    })
  }
}

/**
 * The auth services with another logger. Written out rather than spread: a spread of this many
 * properties costs about 2 µs on every request (decision record 021), and the type checker still
 * names any service added to AuthServices and missed here.
 */
function withLogger(auth: AuthServices, logger: AuthServices['logger']): AuthServices {
  return {
    captchaStore: auth.captchaStore,
    captchaIds: auth.captchaIds,
    smsCodeStore: auth.smsCodeStore,
    sendLimiter: auth.sendLimiter,
    captchaLimiter: auth.captchaLimiter,
    signInLimiter: auth.signInLimiter,
    codeGuessLimiter: auth.codeGuessLimiter,
    users: auth.users,
    passwordHasher: auth.passwordHasher,
    passwordVerifier: auth.passwordVerifier,
    sessions: auth.sessions,
    sms: auth.sms,
    random: auth.random,
    logger,
    metrics: auth.metrics,
    config: auth.config,
  }
}

/** One answer, as the access log and the HTTP metrics see it. */
interface Answered {
  requestId: string
  /** Unknown when Node's parser refused the request line. */
  method?: string
  /** The route template, never the path as sent. */
  route: string
  status: number
  seconds: number
  /** The client went before the answer was finished. */
  aborted: boolean
  /** What Node's HTTP parser refused (its error code), when it did. */
  refused?: string
}

/**
 * The access log's one line and the HTTP metrics of an answer, by route template, so neither holds
 * a query value, a mobile or an id; null when neither is on.
 */
function createAnswerRecorder(
  options: Pick<RequestListenerOptions, 'services' | 'env' | 'logger'>,
): ((answered: Answered) => void) | null {
  const { services, env, logger } = options
  if (!env.ACCESS_LOG && services.metrics.registry === null) return null
  const metrics = services.metrics.http
  return ({ requestId, method, route, status, seconds, aborted, refused }) => {
    metrics.request(route, method ?? 'other', aborted ? 'aborted' : String(status), seconds)
    if (!env.ACCESS_LOG) return
    const line: Record<string, unknown> = {
      reqId: requestId,
      ...(method === undefined ? {} : { method }),
      route,
      status,
      ms: Math.round(seconds * 10_000) / 10,
    }
    if (aborted) line.aborted = true
    if (refused !== undefined) line.refused = refused
    logger.info(line, 'request')
  }
}

/** The status Node itself gives these refusals of its HTTP parser; any other is 400. */
const PARSER_REFUSAL_STATUS: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
}

/**
 * The server's `clientError` listener: a request Node's HTTP parser refused before it became one
 * (a request line no URL parser reads, such as `GET host:443`; a malformed header; headers over
 * 16 KiB; headers not in within HEADERS_TIMEOUT_SECONDS). It gets the status Node gives it, with
 * the original's PARAMERR body like every other refused request, and one access-log line. A
 * client that has gone, or one already answered, gets nothing, as with Node's own listener.
 */
export function createClientErrorListener(
  options: Pick<RequestListenerOptions, 'services' | 'env' | 'logger'>,
): (error: Error & { code?: string }, socket: Duplex) => void {
  const record = createAnswerRecorder(options)
  const payload = JSON.stringify({ errno: RET.PARAMERR, errmsg: RET_MESSAGE.PARAMERR })
  return (error, socket) => {
    const written = (socket as Socket).bytesWritten ?? 0
    if (error.code === 'ECONNRESET' || !socket.writable || written > 0) {
      socket.destroy()
      return
    }
    const status = PARSER_REFUSAL_STATUS[error.code ?? ''] ?? 400
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(payload)}`,
      'cache-control: no-store',
      'connection: close',
    ]
    // Closed once written: the server keeps half-open sockets, which a client could hold.
    socket.end(`${head.join('\r\n')}\r\n\r\n${payload}`, () => socket.destroy())
    record?.({
      requestId: randomUUID(),
      route: NO_PATH_ROUTE,
      status,
      seconds: 0,
      aborted: false,
      refused: error.code ?? error.name,
    })
  }
}
