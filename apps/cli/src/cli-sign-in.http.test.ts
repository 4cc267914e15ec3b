import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { freshMobile } from '@signup/db/testing/mobiles'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'
import { createCliRunner } from './testing/cli-runner.ts'

// The sign-in commands, each run as its own Node process against the production server. A stack
// of their own, with the per-IP send and captcha limits opened (every command comes from
// 127.0.0.1), so these tests never meet the limits of cli.http.test.ts's.
vi.setConfig({ testTimeout: 60_000 })

const PASSWORD = 'correct horse battery'
let stack: TestStack
let workDir: string

beforeAll(async () => {
  stack = await startTestStack('http-cli-sign-in', {
    SMS_LIMIT_IP_HOUR: '100000',
    CAPTCHA_LIMIT_IP_MINUTE: '100000',
  })
  workDir = mkdtempSync(path.join(tmpdir(), 'signup-cli-sign-in-'))
}, 120_000)

afterAll(async () => {
  await stack?.stop()
  if (workDir) rmSync(workDir, { recursive: true, force: true })
})

const { signup, signupTyping, captcha, sendCode } = createCliRunner(() => ({ stack, workDir }))

/** An account with PASSWORD, made through the CLI's register. */
async function registered(): Promise<string> {
  const mobile = freshMobile()
  await sendCode(mobile)
  // Redis holds the sent code's HMAC: the test replaces it with one whose digits it knows.
  const code = await stack.seedSmsCode('register', mobile, '314159')
  const ran = await signup(
    ['register', '--mobile', mobile, '--sms-code', code, '--password-stdin'],
    {
      input: `${PASSWORD}\n`,
    },
  )
  expect(ran.code).toBe(0)
  return mobile
}

describe('signup login', () => {
  it('signs in with --password-stdin, keeping the session in --cookie-jar; me sees it', async () => {
    const mobile = await registered()
    const jar = ['--cookie-jar', 'login.txt']
    const ran = await signup(['login', '--mobile', mobile, '--password-stdin', ...jar], {
      input: `${PASSWORD}\n`,
    })
    expect(ran).toEqual({
      code: 0,
      stdout: expect.stringMatching(
        new RegExp(
          `^signed in: user \\d+, mobile ${mobile} \\(登录成功\\)\nsigned in: the session is kept in the cookie jar\n$`,
        ),
      ) as unknown,
      stderr: '',
    })
    expect(readFileSync(path.join(workDir, 'login.txt'), 'utf8')).toMatch(
      /^__Host-sid=[A-Za-z0-9_-]{43}\n$/,
    )
    expect((await signup(['me', ...jar])).stdout).toMatch(`mobile ${mobile}`)
    const json = await signup(['login', '--json', '--mobile', mobile, '--password', PASSWORD])
    expect(JSON.parse(json.stdout)).toMatchObject({
      errno: 0,
      errmsg: '登录成功',
      user: { mobile, nickName: mobile },
    })
  })

  it('a wrong password: LOGINERR in plain words, exit 2, and --json says it as one line', async () => {
    const mobile = await registered()
    const ran = await signup(['login', '--mobile', mobile, '--password', 'wrong horse'])
    expect(ran).toEqual({
      code: 2,
      stdout: '',
      stderr: 'refused: 手机号或密码错误 (errno 4102)\n',
    })
    const json = await signup([
      'login',
      '--json',
      '--mobile',
      freshMobile(),
      '--password',
      PASSWORD,
    ])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toEqual({ errno: 4102, errmsg: '手机号或密码错误' })
  })
})

describe('signup login-code', () => {
  it('sends a login code, reads the code from standard input, signs in a new mobile', async () => {
    const mobile = freshMobile()
    const { imageCodeId, answer } = await captcha()
    const ran = await signupTyping(
      [
        'login-code',
        '--mobile',
        mobile,
        '--image-code',
        answer,
        '--image-code-id',
        imageCodeId,
        '--cookie-jar',
        'by-code.txt',
      ],
      () => stack.seedSmsCode('login', mobile, '271828'),
    )
    expect(ran.stderr).toBe('sent: 发送成功 (the code expires in 300 s)\n')
    expect(ran.code).toBe(0)
    expect(ran.stdout).toMatch(
      new RegExp(
        `^signed in: user \\d+, mobile ${mobile} \\(登录成功; a new account\\)\nsigned in: the session is kept in the cookie jar\n$`,
      ),
    )
    expect((await signup(['me', '--cookie-jar', 'by-code.txt'])).stdout).toMatch(`mobile ${mobile}`)
  })

  it('--sms-code signs in with a code already received; --json prints the answer', async () => {
    const mobile = await registered()
    const sent = await sendCode(mobile, ['--purpose', 'login'])
    expect(sent.code).toBe(0)
    const code = await stack.seedSmsCode('login', mobile, '271828')
    const ran = await signup(['login-code', '--json', '--mobile', mobile, '--sms-code', code])
    expect(ran.code).toBe(0)
    expect(JSON.parse(ran.stdout)).toMatchObject({ errno: 0, created: false, user: { mobile } })
  })

  it('a refused send: exit 2 and nothing is read; no code typed: exit 1', async () => {
    const wrong = await captcha()
    const refused = await signup([
      'login-code',
      '--mobile',
      freshMobile(),
      '--image-code',
      wrong.answer === 'AAAA' ? 'BBBB' : 'AAAA',
      '--image-code-id',
      wrong.imageCodeId,
    ])
    expect(refused).toEqual({
      code: 2,
      stdout: '',
      stderr: 'refused: 验证码输入错误 (errno 4004, check --image-code)\n',
    })
    const { imageCodeId, answer } = await captcha()
    const empty = await signup(
      [
        'login-code',
        '--mobile',
        freshMobile(),
        '--image-code',
        answer,
        '--image-code-id',
        imageCodeId,
      ],
      { input: '' },
    )
    expect(empty.code).toBe(1)
    expect(empty.stderr).toContain('error: no SMS code on standard input')
  })
})

describe('signup reset-password', () => {
  it('sets a new password with a reset code: the old session ends, the old password is refused', async () => {
    const mobile = await registered()
    const old = ['--cookie-jar', 'before-reset.txt']
    expect((await signup(['login', '--mobile', mobile, '--password', PASSWORD, ...old])).code).toBe(
      0,
    )

    const sent = await sendCode(mobile, ['--purpose', 'reset'])
    expect(sent.code).toBe(0)
    const code = await stack.seedSmsCode('reset', mobile, '161803')
    const NEW_PASSWORD = 'a new horse battery'
    const reset = await signup(
      [
        'reset-password',
        '--mobile',
        mobile,
        '--sms-code',
        code,
        '--password-stdin',
        '--cookie-jar',
        'after-reset.txt',
      ],
      { input: `${NEW_PASSWORD}\n` },
    )
    expect(reset.stderr).toBe('')
    expect(reset.code).toBe(0)
    expect(reset.stdout).toMatch(
      new RegExp(
        `^password reset: user \\d+, mobile ${mobile} \\(密码已重置\\); every other session has ended\n`,
      ),
    )
    expect((await signup(['me', ...old])).stdout).toBe('not signed in\n')
    expect((await signup(['me', '--cookie-jar', 'after-reset.txt'])).stdout).toMatch(
      `mobile ${mobile}`,
    )
    expect((await signup(['login', '--mobile', mobile, '--password', PASSWORD])).code).toBe(2)
    expect((await signup(['login', '--mobile', mobile, '--password', NEW_PASSWORD])).code).toBe(0)
  })

  it('a wrong reset code: exit 2, naming --sms-code', async () => {
    const ran = await signup([
      'reset-password',
      '--mobile',
      freshMobile(),
      '--sms-code',
      '123456',
      '--password',
      PASSWORD,
    ])
    expect(ran).toEqual({
      code: 2,
      stdout: '',
      stderr: 'refused: 短信验证码已失效，请重新获取 (errno 4002, check --sms-code)\n',
    })
  })
})

const SIGN_IN_MISTAKES: [string[], string][] = [
  [['login', '--mobile', '13800138000'], '--password or --password-stdin is required'],
  [['login', '--sms-code', '123456'], '--sms-code is not an option of login'],
  [['login-code', '--mobile', '13800138000'], '--image-code is required'],
  [
    ['login-code', '--mobile', '13800138000', '--sms-code', '123456', '--image-code', 'AB12'],
    '--sms-code and --image-code/--image-code-id exclude each other',
  ],
  [
    [
      'send-code',
      '--mobile',
      '13800138000',
      '--image-code',
      'A',
      '--image-code-id',
      'x',
      '--purpose',
      'signup',
    ],
    '--purpose must be register, login, reset',
  ],
  [['reset-password', '--mobile', '13800138000', '--password', 'x'], '--sms-code is required'],
]

describe.concurrent('mistakes in the sign-in command lines', () => {
  for (const [args, message] of SIGN_IN_MISTAKES) {
    it(`${JSON.stringify(args)}: exit 1 with the mistake and a hint`, async ({ expect }) => {
      const ran = await signup(args)
      expect(ran.code).toBe(1)
      expect(ran.stdout).toBe('')
      expect(ran.stderr).toContain(`error: ${message}`)
    })
  }

  it('--help lists the sign-in commands', async ({ expect }) => {
    const ran = await signup(['--help'])
    for (const command of ['login', 'login-code', 'reset-password']) {
      expect(ran.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'))
    }
  })
})
