import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createAuthClient, refusalOf } from '@signup/client'
import type { AuthClient, AuthInputs, Refusal } from '@signup/client'
import { createCookieJar } from '@signup/client/cookie-jar'
import type { CookieJar } from '@signup/client/cookie-jar'
import { getHealth } from '@signup/client/health'
import { drawPng, pngOfDataUrl } from './terminal-image.ts'

export const DEFAULT_URL = 'http://localhost:3000'

/** Exit codes: a script tells a refusal from a mistake of its own or an unreachable server. */
export const EXIT = { ok: 0, error: 1, refused: 2 } as const

export const USAGE = `Usage: signup <command> [options]

Commands:
  captcha      get a captcha: prints its id, draws it in a colour terminal
                 --out FILE        save the PNG to FILE
                 --draw            draw it even when stdout is not a terminal
                 --no-draw         never draw it
  send-code    send an SMS code for a purpose (register unless --purpose says otherwise)
                 --mobile MOBILE --image-code TEXT --image-code-id ID
                 [--purpose register|login|reset]
  register     create the account and sign in
                 --mobile MOBILE --sms-code CODE (--password PASSWORD | --password-stdin)
  login        sign in with the password
                 --mobile MOBILE (--password PASSWORD | --password-stdin)
  login-code   send a login code, then sign in with the code typed or piped in on stdin
               (an account is made for a mobile that has none); --sms-code skips the send
                 --mobile MOBILE (--image-code TEXT --image-code-id ID | --sms-code CODE)
  reset-password
               set a new password with a reset code (send one with send-code --purpose reset);
               every session of the account ends, and this one signs in
                 --mobile MOBILE --sms-code CODE (--password PASSWORD | --password-stdin)
  me           the signed-in user of --cookie-jar's session
  logout       end --cookie-jar's session
  health       GET /healthz: whether Postgres and Redis answer

Options:
  --url URL          the server (default: $SIGNUP_URL, else ${DEFAULT_URL})
  --json             print the result, or {errno, errmsg, retryAfter} of a refusal, as JSON
  --cookie-jar FILE  send the cookies kept in FILE and keep what the server sets (the session)
  -h, --help         this text

Exit status: 0 done, 1 usage or network error, 2 refused by the server (or unhealthy).
`

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  'cookie-jar': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  out: { type: 'string' },
  draw: { type: 'boolean' },
  'no-draw': { type: 'boolean' },
  mobile: { type: 'string' },
  'image-code': { type: 'string' },
  'image-code-id': { type: 'string' },
  'sms-code': { type: 'string' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  purpose: { type: 'string' },
} as const

type OptionName = keyof typeof OPTIONS
type Values = Partial<Record<OptionName, string | boolean>>

const GLOBAL_OPTIONS: readonly OptionName[] = ['url', 'json', 'cookie-jar', 'help']

const COMMAND_OPTIONS = {
  captcha: ['out', 'draw', 'no-draw'],
  'send-code': ['mobile', 'image-code', 'image-code-id', 'purpose'],
  register: ['mobile', 'sms-code', 'password', 'password-stdin'],
  login: ['mobile', 'password', 'password-stdin'],
  'login-code': ['mobile', 'image-code', 'image-code-id', 'sms-code'],
  'reset-password': ['mobile', 'sms-code', 'password', 'password-stdin'],
  me: [],
  logout: [],
  health: [],
} as const satisfies Record<string, readonly OptionName[]>

type Command = keyof typeof COMMAND_OPTIONS

type Purpose = NonNullable<AuthInputs['auth']['sendSmsCode']['purpose']>
const PURPOSES = ['register', 'login', 'reset'] as const satisfies readonly Purpose[]

/** Where the program reads and writes: the process's own streams, or a test's. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number }
  stderr: { write(text: string): unknown }
  /** Read a line at a time (a code, then a password); a terminal gets a prompt on stderr. */
  stdin: AsyncIterable<string | Buffer> & { isTTY?: boolean }
  env: Record<string, string | undefined>
  cwd: string
}

/** A mistake in the command line: told with the usage hint, exit 1. */
class UsageError extends Error {}

interface Run {
  io: CliIo
  values: Values
  url: string
  json: boolean
  client: AuthClient
  jar: CookieJar | null
  /** Standard input, a line at a time. */
  lines: LineReader
}

/** Runs one command line and answers the exit code; prints nothing to a console directly. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json')
  let url = DEFAULT_URL
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] }
    json = values.json === true
    if (values.help === true || positionals[0] === 'help') {
      io.stdout.write(USAGE)
      return EXIT.ok
    }
    const command = commandOf(positionals)
    checkOptions(command, values)
    url = serverUrl(values, io.env)

    const jarFile = stringOption(values, 'cookie-jar')
    const jarPath = jarFile === undefined ? null : path.resolve(io.cwd, jarFile)
    const saved = jarPath === null ? '' : await readJar(jarPath)
    const jar = jarPath === null ? null : createCookieJar({ cookies: saved })
    const client = createAuthClient({ url, ...(jar ? { fetch: jar.fetch } : {}) })
    try {
      const lines = new LineReader(io.stdin)
      try {
        return await COMMANDS[command]({ io, values, url, json, client, jar, lines })
      } finally {
        await lines.close()
      }
    } finally {
      // Kept on a refusal too: a dead session's cookie is cleared by the server's answer.
      if (jar && jarPath !== null && jar.header() !== saved) await writeJar(jarPath, jar.header())
    }
  } catch (error) {
    return reportFailure(error, { io, json, url })
  }
}

const COMMANDS: Record<Command, (run: Run) => Promise<number>> = {
  async captcha({ io, values, json, client }) {
    if (values.draw === true && values['no-draw'] === true) {
      throw new UsageError('--draw and --no-draw exclude each other')
    }
    const captcha = await client.auth.getImageCode.mutate()
    const png = pngOfDataUrl(captcha.image)
    const out = stringOption(values, 'out')
    const outPath = out === undefined ? undefined : path.resolve(io.cwd, out)
    if (outPath !== undefined) await writeFile(outPath, png)
    if (json) return printJson(io, captcha)

    const canDraw = io.stdout.isTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb'
    if (values.draw === true || (canDraw && values['no-draw'] !== true)) {
      io.stdout.write(drawPng(png, io.stdout.columns ?? 80))
    }
    const lines = [`imageCodeId: ${captcha.imageCodeId}`, `expires in: ${captcha.expiresIn} s`]
    if (outPath !== undefined) lines.push(`saved to: ${outPath}`)
    lines.push(
      `next: signup send-code --mobile <mobile> --image-code <text> --image-code-id ${captcha.imageCodeId}`,
    )
    return printLines(io, lines)
  },

  async 'send-code'({ io, values, json, client }) {
    const purpose = purposeOf(values)
    const sent = await client.auth.sendSmsCode.mutate({
      mobile: required(values, 'mobile'),
      imageCode: required(values, 'image-code'),
      imageCodeId: required(values, 'image-code-id'),
      ...(purpose === undefined ? {} : { purpose }),
    })
    if (json) return printJson(io, sent)
    return printLines(io, [
      `sent: ${sent.errmsg} (the code expires in ${sent.expiresIn} s; another send is possible in ${sent.resendIn} s)`,
    ])
  },

  async register({ io, values, json, client, jar, lines }) {
    const mobile = required(values, 'mobile')
    const smsCode = required(values, 'sms-code')
    const password = await passwordOf(values, lines)
    const registered = await client.auth.register.mutate({ mobile, smsCode, password })
    if (json) return printJson(io, registered)
    const { user } = registered
    return printLines(io, [
      `registered: user ${user.id}, mobile ${user.mobile} (${registered.errmsg})`,
      sessionNote(jar),
    ])
  },

  async login({ io, values, json, client, jar, lines }) {
    const mobile = required(values, 'mobile')
    const password = await passwordOf(values, lines)
    const signedIn = await client.auth.login.mutate({ mobile, password })
    if (json) return printJson(io, signedIn)
    const { user } = signedIn
    return printLines(io, [
      `signed in: user ${user.id}, mobile ${user.mobile} (${signedIn.errmsg})`,
      sessionNote(jar),
    ])
  },

  async 'login-code'({ io, values, json, client, jar, lines }) {
    const mobile = required(values, 'mobile')
    let smsCode = stringOption(values, 'sms-code')
    const captcha = values['image-code'] !== undefined || values['image-code-id'] !== undefined
    if (smsCode !== undefined && captcha) {
      throw new UsageError('--sms-code and --image-code/--image-code-id exclude each other')
    }
    if (smsCode === undefined) {
      const sent = await client.auth.sendSmsCode.mutate({
        mobile,
        imageCode: required(values, 'image-code'),
        imageCodeId: required(values, 'image-code-id'),
        purpose: 'login',
      })
      // Progress on stderr: stdout stays the one answer (--json's one line).
      io.stderr.write(`sent: ${sent.errmsg} (the code expires in ${sent.expiresIn} s)\n`)
      if (io.stdin.isTTY === true) io.stderr.write('SMS code: ')
      smsCode = (await lines.next())?.trim()
      if (!smsCode) throw new UsageError('no SMS code on standard input')
    }
    const signedIn = await client.auth.loginWithSmsCode.mutate({ mobile, smsCode })
    if (json) return printJson(io, signedIn)
    const { user } = signedIn
    return printLines(io, [
      `signed in: user ${user.id}, mobile ${user.mobile} (${signedIn.errmsg}${signedIn.created ? '; a new account' : ''})`,
      sessionNote(jar),
    ])
  },

  async 'reset-password'({ io, values, json, client, jar, lines }) {
    const mobile = required(values, 'mobile')
    const smsCode = required(values, 'sms-code')
    const password = await passwordOf(values, lines)
    const reset = await client.auth.resetPassword.mutate({ mobile, smsCode, password })
    if (json) return printJson(io, reset)
    const { user } = reset
    return printLines(io, [
      `password reset: user ${user.id}, mobile ${user.mobile} (${reset.errmsg}); every other session has ended`,
      sessionNote(jar),
    ])
  },

  async me({ io, json, client, jar }) {
    const user = await client.auth.me.query()
    if (json) return printJson(io, user)
    if (user) return printLines(io, [`signed in: user ${user.id}, mobile ${user.mobile}`])
    return printLines(io, [jar ? 'not signed in' : 'not signed in (no --cookie-jar given)'])
  },

  async logout({ io, json, client }) {
    const result = await client.auth.logout.mutate()
    if (json) return printJson(io, result)
    return printLines(io, [`logged out: ${result.errmsg}`])
  },

  async health({ io, url, json, jar }) {
    const health = await getHealth({ url, ...(jar ? { fetch: jar.fetch } : {}) })
    const { report } = health
    if (json) printJson(io, report)
    else if (report.status === 'draining') {
      printLines(io, ['unhealthy: draining (the server is shutting down)'])
    } else {
      const checks = `postgres ${report.postgres}, redis ${report.redis}`
      const down = report.down.join(', ')
      printLines(io, [health.ok ? `healthy: ${checks}` : `unhealthy: ${down} (${checks})`])
    }
    return health.ok ? EXIT.ok : EXIT.refused
  },
}

function commandOf(positionals: string[]): Command {
  const [name, ...rest] = positionals
  if (name === undefined) throw new UsageError('no command given')
  if (!Object.hasOwn(COMMAND_OPTIONS, name)) throw new UsageError(`unknown command '${name}'`)
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest.join(' ')}'`)
  return name as Command
}

function checkOptions(command: Command, values: Values): void {
  const allowed: readonly OptionName[] = [...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[command]]
  for (const name of Object.keys(values) as OptionName[]) {
    if (!allowed.includes(name)) throw new UsageError(`--${name} is not an option of ${command}`)
  }
}

function serverUrl(values: Values, env: CliIo['env']): string {
  const url = stringOption(values, 'url') ?? (env.SIGNUP_URL || DEFAULT_URL)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`'${url}' is not a URL (--url or SIGNUP_URL)`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`'${url}' is not an http:// or https:// URL (--url or SIGNUP_URL)`)
  }
  return url
}

function stringOption(values: Values, name: OptionName): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

function required(values: Values, name: OptionName): string {
  const value = stringOption(values, name)
  if (value === undefined) throw new UsageError(`--${name} is required`)
  return value
}

function sessionNote(jar: CookieJar | null): string {
  return jar
    ? 'signed in: the session is kept in the cookie jar'
    : 'signed in, but the session is not kept: add --cookie-jar FILE to keep it'
}

function purposeOf(values: Values): Purpose | undefined {
  const given = stringOption(values, 'purpose')
  if (given === undefined) return undefined
  const purpose = PURPOSES.find((name) => name === given)
  if (!purpose) throw new UsageError(`--purpose must be ${PURPOSES.join(', ')}`)
  return purpose
}

/** From --password, or the next line of standard input, so it stays out of the process list. */
async function passwordOf(values: Values, lines: LineReader): Promise<string> {
  const given = stringOption(values, 'password')
  const fromStdin = values['password-stdin'] === true
  if (given !== undefined && fromStdin) {
    throw new UsageError('--password and --password-stdin exclude each other')
  }
  if (given !== undefined) return given
  if (!fromStdin) throw new UsageError('--password or --password-stdin is required')
  return (await lines.next()) ?? ''
}

/**
 * Standard input a line at a time, read only as far as asked: a code typed at a prompt is
 * answered once its line ends, without waiting for the end of input.
 */
class LineReader {
  readonly #input: AsyncIterable<string | Buffer>
  #chunks: AsyncIterator<string | Buffer> | undefined
  #buffer = ''
  #ended = false

  constructor(input: AsyncIterable<string | Buffer>) {
    this.#input = input
  }

  /** Stops reading: a terminal's input would otherwise keep the process waiting. */
  async close(): Promise<void> {
    if (this.#ended || !this.#chunks) return
    this.#ended = true
    await this.#chunks.return?.()
  }

  /** The next line without its line break; null once the input has ended. */
  async next(): Promise<string | null> {
    for (;;) {
      const end = this.#buffer.indexOf('\n')
      if (end !== -1) {
        const line = this.#buffer.slice(0, end)
        this.#buffer = this.#buffer.slice(end + 1)
        return line.replace(/\r$/, '')
      }
      if (this.#ended) {
        if (this.#buffer === '') return null
        const rest = this.#buffer
        this.#buffer = ''
        return rest.replace(/\r$/, '')
      }
      this.#chunks ??= this.#input[Symbol.asyncIterator]()
      const chunk = await this.#chunks.next()
      if (chunk.done) this.#ended = true
      else this.#buffer += chunk.value.toString()
    }
  }
}

async function readJar(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw error
  }
}

async function writeJar(file: string, cookies: string): Promise<void> {
  // The file holds a live session: readable by its owner only.
  await writeFile(file, cookies === '' ? '' : `${cookies}\n`, { mode: 0o600 })
}

function printJson(io: CliIo, value: unknown): number {
  io.stdout.write(`${JSON.stringify(value)}\n`)
  return EXIT.ok
}

function printLines(io: CliIo, lines: string[]): number {
  io.stdout.write(`${lines.join('\n')}\n`)
  return EXIT.ok
}

function reportFailure(
  error: unknown,
  { io, json, url }: { io: CliIo; json: boolean; url: string },
): number {
  if (error instanceof UsageError || isParseArgsError(error)) {
    io.stderr.write(`error: ${(error as Error).message}\nrun 'signup --help' for usage\n`)
    return EXIT.error
  }
  const refusal = refusalOf(error)
  if (refusal) {
    if (json) printJson(io, refusalJson(refusal))
    io.stderr.write(`refused: ${describeRefusal(refusal)}\n`)
    return EXIT.refused
  }
  io.stderr.write(`error: ${isFileError(error) ? error.message : describeFailure(error, url)}\n`)
  return EXIT.error
}

/** A failure to read or write a local file (--out, --cookie-jar): its own message names the file. */
function isFileError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string'
}

function refusalJson(refusal: Refusal): Refusal {
  const { errno, errmsg, retryAfter, field } = refusal
  return {
    errno,
    errmsg,
    ...(retryAfter === undefined ? {} : { retryAfter }),
    ...(field ? { field } : {}),
  }
}

/** The command-line option of each input field a refusal can name. */
const OPTION_OF_FIELD: Record<string, string> = {
  mobile: '--mobile',
  imageCode: '--image-code',
  imageCodeId: '--image-code-id',
  smsCode: '--sms-code',
  password: '--password',
  purpose: '--purpose',
}

/** `该手机已被注册 (errno 4003)`, with the option to check and the wait when the server named them. */
export function describeRefusal(refusal: Refusal): string {
  const details = [`errno ${refusal.errno}`]
  if (refusal.field !== undefined) {
    details.push(`check ${OPTION_OF_FIELD[refusal.field] ?? refusal.field}`)
  }
  if (refusal.retryAfter !== undefined) details.push(`retry in ${refusal.retryAfter} s`)
  return `${refusal.errmsg} (${details.join(', ')})`
}

/** No answer, or an answer that is not the API's, in words an operator can act on. */
function describeFailure(error: unknown, url: string): string {
  const system = systemErrorOf(error)
  if (system) return `cannot reach ${url} (${system})`
  const message = error instanceof Error ? error.message : String(error)
  return `${url} did not answer as the signup server (${message})`
}

/** Why a fetch got no answer: the system error's code (ECONNREFUSED, ENOTFOUND) or undici's words. */
function systemErrorOf(error: unknown): string | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    if (cause instanceof TypeError && cause.message === 'fetch failed') {
      const reason = cause.cause
      if (!(reason instanceof Error)) return cause.message
      const { code } = reason as NodeJS.ErrnoException
      return typeof code === 'string' ? code : reason.message
    }
    cause = cause.cause
  }
  return undefined
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')
}
