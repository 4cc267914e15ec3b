import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { freshMobile } from '@signup/db/testing/mobiles'
import { loadRecorder, serverModulesIn } from '@signup/client/load-recorder'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { createCliRunner } from './testing/cli-runner.ts'

// Each test runs the command several times, a Node process each: slower than one request.
vi.setConfig({ testTimeout: 60_000 })

const CLI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PASSWORD = 'correct horse battery'
let stack: TestStack
let workDir: string

beforeAll(async () => {
  stack = await startTestStack('http-cli', {
    // This suite reads register codes from SMS_<mobile>, as the original's register view does
    // during a cut-over (SMS_CODE_STORAGE=plain); HMAC storage is tested in harden.http.test.ts.
    SMS_CODE_STORAGE: 'plain',
  })
  workDir = mkdtempSync(path.join(tmpdir(), 'signup-cli-'))
}, 120_000)

afterAll(async () => {
  await stack?.stop()
  if (workDir) rmSync(workDir, { recursive: true, force: true })
})

const { signup, captcha, sendCode } = createCliRunner(() => ({ stack, workDir }))

const ESC = '\x1b'

describe('signup health', () => {
  it('prints one line and exits 0; --json prints the report', async () => {
    expect(await signup(['health'])).toEqual({
      code: 0,
      stdout: 'healthy: postgres ok, redis ok\n',
      stderr: '',
    })
    const json = await signup(['health', '--json'])
    expect(JSON.parse(json.stdout)).toEqual({ status: 'ok', postgres: 'ok', redis: 'ok', down: [] })
  })

  it('an unhealthy server: what is down, exit 2', async () => {
    // A stand-in answering as /healthz does when Redis is down.
    const down = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: 'down', postgres: 'ok', redis: 'down', down: ['redis'] }))
    })
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = down.address() as { port: number }
      const ran = await signup(['health', '--url', `http://127.0.0.1:${port}`])
      expect(ran).toEqual({
        code: 2,
        stdout: 'unhealthy: redis (postgres ok, redis down)\n',
        stderr: '',
      })
    } finally {
      down.close()
    }
  })
})

describe('signup health, a server shutting down', () => {
  it('says it is draining, exit 2', async () => {
    const draining = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: 'draining', down: [] }))
    })
    await new Promise<void>((resolve) => draining.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = draining.address() as { port: number }
      expect(await signup(['health', '--url', `http://127.0.0.1:${port}`])).toEqual({
        code: 2,
        stdout: 'unhealthy: draining (the server is shutting down)\n',
        stderr: '',
      })
    } finally {
      draining.close()
    }
  })
})

describe('signup captcha', () => {
  it('--out saves the PNG relative to the working directory, and prints the id', async () => {
    const ran = await signup(['captcha', '--out', 'captcha.png'])
    expect(ran.code).toBe(0)
    expect(ran.stderr).toBe('')
    const file = path.join(workDir, 'captcha.png')
    const [idLine, ...rest] = ran.stdout.trimEnd().split('\n')
    const id = /^imageCodeId: ([0-9a-f-]{36})$/.exec(idLine ?? '')?.[1] ?? ''
    expect(rest).toEqual([
      'expires in: 300 s',
      `saved to: ${file}`,
      `next: signup send-code --mobile <mobile> --image-code <text> --image-code-id ${id}`,
    ])
    // Not a terminal: no drawing, no escape codes.
    expect(ran.stdout).not.toContain(ESC)
    expect(readFileSync(file).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
    expect(await stack.redis.get(`ImageCode_${id}`)).toMatch(/^[A-Z2-9]{4}$/)
  })

  it('--json prints the procedure answer; the saved file is its image', async () => {
    const ran = await signup(['captcha', '--json', '--out', 'json.png', '--draw'])
    expect(ran.code).toBe(0)
    const answer = JSON.parse(ran.stdout) as {
      imageCodeId: string
      image: string
      expiresIn: number
    }
    expect(Object.keys(answer).sort()).toEqual(['expiresIn', 'image', 'imageCodeId'])
    expect(answer.expiresIn).toBe(300)
    const bytes = Buffer.from(answer.image.replace('data:image/png;base64,', ''), 'base64')
    expect(readFileSync(path.join(workDir, 'json.png'))).toEqual(bytes)
  })

  it('--draw draws it in half blocks and 24-bit colours, fitted to 80 columns', async () => {
    const ran = await signup(['captcha', '--draw'])
    expect(ran.code).toBe(0)
    const lines = ran.stdout.split('\n')
    const drawing = lines.filter((line) => line.includes('▀'))
    // 120 × 40 pixels at half size: 60 columns, 10 lines of two pixel rows each.
    expect(drawing).toHaveLength(10)
    for (const line of drawing) {
      expect([...line.matchAll(/▀/g)]).toHaveLength(60)
      expect(line).toMatch(new RegExp(`^${ESC}\\[38;2;\\d+;\\d+;\\d+m${ESC}\\[48;2;`))
      expect(line.endsWith(`${ESC}[0m`)).toBe(true)
    }
    expect(lines[10]).toMatch(/^imageCodeId: /)
  })
})

describe('signup send-code', () => {
  it('sends; a second send in the window is refused with the wait, exit 2', async () => {
    const mobile = freshMobile()
    const sent = await sendCode(mobile)
    expect(sent).toEqual({
      code: 0,
      stdout: 'sent: 发送成功 (the code expires in 300 s; another send is possible in 60 s)\n',
      stderr: '',
    })
    expect(await stack.redis.get(`SMS_${mobile}`)).toMatch(/^\d{6}$/)

    const again = await sendCode(mobile)
    expect(again.code).toBe(2)
    expect(again.stdout).toBe('')
    expect(again.stderr).toMatch(
      /^refused: 请求过于频繁，请稍后再试 \(errno 4201, (check --mobile, )?retry in ([1-9]|[1-5]\d|60) s\)\n$/,
    )
    const json = await sendCode(mobile, ['--json'])
    expect(json.code).toBe(2)
    const refusal = JSON.parse(json.stdout) as Record<string, unknown>
    expect(refusal).toMatchObject({
      errno: 4201,
      errmsg: '请求过于频繁，请稍后再试',
      retryAfter: expect.any(Number) as unknown,
    })
  })

  it('--json prints the procedure answer', async () => {
    const sent = await sendCode(freshMobile(), ['--json'])
    expect(sent.code).toBe(0)
    expect(JSON.parse(sent.stdout)).toEqual({
      errno: 0,
      errmsg: '发送成功',
      expiresIn: 300,
      resendIn: 60,
    })
  })

  it('refusals: plain words and the errno on stderr, exit 2', async () => {
    const wrong = await captcha()
    const ran = await signup([
      'send-code',
      '--mobile',
      freshMobile(),
      '--image-code',
      wrong.answer === 'AAAA' ? 'BBBB' : 'AAAA',
      '--image-code-id',
      wrong.imageCodeId,
    ])
    expect(ran).toEqual({
      code: 2,
      stdout: '',
      stderr: 'refused: 验证码输入错误 (errno 4004, check --image-code)\n',
    })

    const { imageCodeId, answer } = await captcha()
    const malformed = await signup([
      'send-code',
      '--json',
      '--mobile',
      '+86 138 0013 8000',
      '--image-code',
      answer,
      '--image-code-id',
      imageCodeId,
    ])
    expect(malformed.code).toBe(2)
    expect(JSON.parse(malformed.stdout)).toEqual({
      errno: 4004,
      errmsg: '手机号不正确',
      field: 'mobile',
    })
    expect(malformed.stderr).toBe('refused: 手机号不正确 (errno 4004, check --mobile)\n')
  })
})

describe('signup register, me and logout', () => {
  it('register keeps the session in --cookie-jar; me and logout use it', async () => {
    const mobile = freshMobile()
    await sendCode(mobile)
    const code = (await stack.redis.get(`SMS_${mobile}`)) ?? ''
    const jar = ['--cookie-jar', 'session.txt']
    const registered = await signup(
      ['register', '--mobile', mobile, '--sms-code', code, '--password-stdin', ...jar],
      { input: `${PASSWORD}\n` },
    )
    expect(registered.stderr).toBe('')
    expect(registered.code).toBe(0)
    expect(registered.stdout).toMatch(
      new RegExp(
        `^registered: user \\d+, mobile ${mobile} \\(注册成功\\)\nsigned in: the session is kept in the cookie jar\n$`,
      ),
    )
    const jarFile = path.join(workDir, 'session.txt')
    expect(readFileSync(jarFile, 'utf8')).toMatch(/^__Host-sid=[A-Za-z0-9_-]{43}\n$/)
    expect(statSync(jarFile).mode & 0o777).toBe(0o600)

    const me = await signup(['me', ...jar])
    expect(me).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(`^signed in: user \\d+, mobile ${mobile}\n$`) as unknown,
    })
    const meJson = await signup(['me', '--json', ...jar])
    expect(JSON.parse(meJson.stdout)).toEqual({
      id: expect.any(Number) as unknown,
      mobile,
      nickName: mobile,
    })
    expect(await signup(['me'])).toEqual({
      code: 0,
      stdout: 'not signed in (no --cookie-jar given)\n',
      stderr: '',
    })

    expect(await signup(['logout', ...jar])).toEqual({
      code: 0,
      stdout: 'logged out: 已退出登录\n',
      stderr: '',
    })
    expect(readFileSync(jarFile, 'utf8')).toBe('')
    expect((await signup(['me', ...jar])).stdout).toBe('not signed in\n')

    // The registered mobile is refused a new code, in the contract's words.
    const exists = await sendCode(mobile)
    expect(exists).toMatchObject({ code: 2, stdout: '' })
    expect(exists.stderr).toMatch(/^refused: 该手机已被注册 \(errno 4003(, check --mobile)?\)\n$/)
  })

  it('a wrong code is refused, exit 2, and no session is kept', async () => {
    const mobile = freshMobile()
    await sendCode(mobile)
    const code = (await stack.redis.get(`SMS_${mobile}`)) ?? ''
    const ran = await signup([
      'register',
      '--mobile',
      mobile,
      '--sms-code',
      code === '000000' ? '111111' : '000000',
      '--password',
      PASSWORD,
      '--json',
    ])
    expect(ran.code).toBe(2)
    expect(JSON.parse(ran.stdout)).toEqual({
      errno: 4004,
      errmsg: '短信验证码错误',
      field: 'smsCode',
    })
    expect(ran.stderr).toBe('refused: 短信验证码错误 (errno 4004, check --sms-code)\n')
  })
})

const MISTAKES: [string[], string][] = [
  [[], 'no command given'],
  [['frob'], "unknown command 'frob'"],
  [['captcha', '--mobile', '13800138000'], '--mobile is not an option of captcha'],
  [['captcha', '--draw', '--no-draw'], '--draw and --no-draw exclude each other'],
  [['send-code', '--mobile', '13800138000'], '--image-code is required'],
  [
    ['register', '--mobile', '13800138000', '--sms-code', '123456'],
    '--password or --password-stdin is required',
  ],
  [['health', '--bogus'], "Unknown option '--bogus'"],
  [
    ['health', '--url', 'ftp://example.com'],
    "'ftp://example.com' is not an http:// or https:// URL",
  ],
]

// Each is a process of its own with no server state, so they run side by side.
describe.concurrent('mistakes in the command line', () => {
  for (const [args, message] of MISTAKES) {
    it(`${JSON.stringify(args)}: exit 1 with the mistake and a hint, nothing on stdout`, async ({
      expect,
    }) => {
      const ran = await signup(args)
      expect(ran.code).toBe(1)
      expect(ran.stdout).toBe('')
      expect(ran.stderr).toContain(`error: ${message}`)
      expect(ran.stderr).toContain("run 'signup --help' for usage")
    })
  }
})

describe('failures', () => {
  it('--help prints the usage, exit 0', async () => {
    const ran = await signup(['--help'])
    expect(ran.code).toBe(0)
    expect(ran.stdout).toMatch(/^Usage: signup <command> \[options\]/)
    for (const command of ['captcha', 'send-code', 'register', 'me', 'logout', 'health']) {
      expect(ran.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    }
  })

  it('an unreachable server: an error in plain words, exit 1; --url wins over SIGNUP_URL', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as { port: number }
    await new Promise((resolve) => closed.close(resolve))
    const url = `http://127.0.0.1:${port}`
    expect(await signup(['captcha', '--url', url, '--json'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: cannot reach ${url} (ECONNREFUSED)\n`,
    })
    expect((await signup(['health'], { env: { SIGNUP_URL: url } })).stderr).toBe(
      `error: cannot reach ${url} (ECONNREFUSED)\n`,
    )
  })

  it('a file that cannot be written: the system error naming it, exit 1', async () => {
    const out = path.join(workDir, 'missing-dir', 'captcha.png')
    expect(await signup(['captcha', '--out', out])).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: ENOENT: no such file or directory, open '${out}'\n`,
    })
  })

  it('a URL that is not the signup server: exit 1, not a refusal', async () => {
    const ran = await signup(['captcha', '--url', `${stack.server.url}/nowhere`])
    expect(ran.code).toBe(1)
    expect(ran.stderr).toMatch(/^error: .* did not answer as the signup server/)
  })
})

describe('what the command loads', () => {
  it('no server module: the client reaches the router by its type only', async () => {
    const log = path.join(workDir, 'loads.log')
    const recorder = loadRecorder(log)
    const ran = await signup(['captcha', '--json'], { nodeArgs: recorder.args, env: recorder.env })
    expect(ran.code).toBe(0)
    const loads = readFileSync(log, 'utf8')
    expect(loads).toContain('@signup/client ')
    expect(loads).toContain('@trpc/client ')
    expect(serverModulesIn(loads)).toEqual([])
  })

  it('pnpm cli runs it from the repository root', async () => {
    const root = path.resolve(CLI_DIR, '..', '..')
    const child = spawn(
      'pnpm',
      ['--silent', 'cli', 'health', '--json', '--url', stack.server.url],
      {
        cwd: root,
        env: process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    const code = await new Promise((resolve) => child.once('close', resolve))
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ status: 'ok' })
  })
})
