import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import type { TestStack } from '@signup/api/testing/test-stack'

const BIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'bin',
  'signup.js',
)

export interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Written to standard input, which is then closed. */
  input?: string
  env?: Record<string, string>
  nodeArgs?: string[]
}

/**
 * The CLI run as a user would run the installed command: its own Node process, in the suite's
 * work directory, SIGNUP_URL pointing at the suite's stack (read when a command starts, so the
 * runner can be made before the stack is).
 */
export function createCliRunner(suite: () => { stack: TestStack; workDir: string }) {
  function start(args: string[], options: Omit<RunOptions, 'input'> = {}) {
    const { stack, workDir } = suite()
    const child: ChildProcessWithoutNullStreams = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), BIN, ...args],
      {
        cwd: workDir,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: workDir,
          SIGNUP_URL: stack.server.url,
          ...options.env,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    const ran: Ran = { code: null, stdout: '', stderr: '' }
    child.stdout.on('data', (chunk: Buffer) => (ran.stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (ran.stderr += chunk.toString()))
    const done = new Promise<Ran>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code) => resolve({ ...ran, code }))
    })
    return { child, ran, done }
  }

  function signup(args: string[], options: RunOptions = {}): Promise<Ran> {
    const { child, done } = start(args, options)
    child.stdin.end(options.input ?? '')
    return done
  }

  /**
   * Runs the command with standard input left open, as a user at a prompt would: once stderr says
   * the code was sent, `answer` finds what to type and it is written, a line, and input closed.
   */
  function signupTyping(args: string[], answer: () => Promise<string>): Promise<Ran> {
    const { child, ran, done } = start(args)
    let typed = false
    child.stderr.on('data', () => {
      if (!typed && ran.stderr.includes('sent: ')) {
        typed = true
        void answer().then((line) => child.stdin.end(`${line}\n`))
      }
    })
    return done.finally(() => {
      if (!typed) child.stdin.destroy()
    })
  }

  /** A captcha through the CLI, its answer read from Redis as the user would read the image. */
  async function captcha(): Promise<{ imageCodeId: string; answer: string }> {
    const ran = await signup(['captcha', '--json'])
    expect(ran.code).toBe(0)
    const { imageCodeId } = JSON.parse(ran.stdout) as { imageCodeId: string }
    const answer = (await suite().stack.redis.get(`ImageCode_${imageCodeId}`)) ?? ''
    return { imageCodeId, answer }
  }

  async function sendCode(mobile: string, extra: string[] = []): Promise<Ran> {
    const { imageCodeId, answer } = await captcha()
    return signup([
      'send-code',
      '--mobile',
      mobile,
      '--image-code',
      answer,
      '--image-code-id',
      imageCodeId,
      ...extra,
    ])
  }

  return { signup, signupTyping, captcha, sendCode }
}
