import { describe, expect, it } from 'vitest'
import { describeRefusal, run, USAGE } from './cli.ts'
import type { CliIo } from './cli.ts'

function fakeIo(
  env: Record<string, string> = {},
): CliIo & { out: () => string; err: () => string } {
  let out = ''
  let err = ''
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    stdin: (async function* () {})(),
    env,
    cwd: '/',
    out: () => out,
    err: () => err,
  }
}

describe('describeRefusal', () => {
  it('says the message and the errno, then the option to check and the wait', () => {
    expect(describeRefusal({ errno: 4003, errmsg: '该手机已被注册' })).toBe(
      '该手机已被注册 (errno 4003)',
    )
    expect(describeRefusal({ errno: 4004, errmsg: '短信验证码错误', field: 'smsCode' })).toBe(
      '短信验证码错误 (errno 4004, check --sms-code)',
    )
    expect(
      describeRefusal({ errno: 4201, errmsg: '请求过于频繁', field: 'mobile', retryAfter: 42 }),
    ).toBe('请求过于频繁 (errno 4201, check --mobile, retry in 42 s)')
    expect(describeRefusal({ errno: 4103, errmsg: '参数不全', field: 'nickname' })).toBe(
      '参数不全 (errno 4103, check nickname)',
    )
  })
})

describe('run', () => {
  it('--help and help print the usage to stdout', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const io = fakeIo()
      expect(await run(args, io)).toBe(0)
      expect(io.out()).toBe(USAGE)
    }
  })

  it('a SIGNUP_URL that is not a URL is a usage error naming it', async () => {
    const io = fakeIo({ SIGNUP_URL: 'localhost:3000' })
    expect(await run(['health'], io)).toBe(1)
    expect(io.err()).toContain("error: 'localhost:3000' is not an http:// or https:// URL")
  })

  it('--password and --password-stdin together are a usage error', async () => {
    const io = fakeIo()
    const args = ['register', '--mobile', '1', '--sms-code', '1', '--password', 'x']
    expect(await run([...args, '--password-stdin'], io)).toBe(1)
    expect(io.err()).toContain('--password and --password-stdin exclude each other')
  })
})

describe('run: the sign-in commands', () => {
  it('--purpose must be one the server knows, before anything is sent', async () => {
    const io = fakeIo({ SIGNUP_URL: 'http://127.0.0.1:1' })
    const args = ['send-code', '--mobile', '1', '--image-code', 'A', '--image-code-id', 'x']
    expect(await run([...args, '--purpose', 'signup'], io)).toBe(1)
    expect(io.err()).toContain('error: --purpose must be register, login, reset')
  })

  it('login-code takes a captcha to send with, or a code already received, not both', async () => {
    const io = fakeIo({ SIGNUP_URL: 'http://127.0.0.1:1' })
    const args = ['login-code', '--mobile', '1', '--sms-code', '123456', '--image-code-id', 'x']
    expect(await run(args, io)).toBe(1)
    expect(io.err()).toContain('--sms-code and --image-code/--image-code-id exclude each other')
  })

  it('the usage names the sign-in commands and --purpose', () => {
    for (const text of ['  login ', '  login-code ', '  reset-password', '--purpose']) {
      expect(USAGE).toContain(text)
    }
  })
})
