/**
 * Test support: Node arguments that make a process write every module it resolves to a file, so a
 * test can show that the client (or an app built on it) loads no server code at run time.
 */
const HOOKS = `
import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  appendFileSync(process.env.SIGNUP_LOAD_LOG, specifier + ' ' + resolved.url + '\\n')
  return resolved
}
`
const REGISTER = `import { register } from 'node:module'
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)})`

/** Pass `args` before the script and `env` with the process's environment. */
export function loadRecorder(logFile: string): { args: string[]; env: Record<string, string> } {
  return {
    args: ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`],
    env: { SIGNUP_LOAD_LOG: logFile },
  }
}

/** Packages that are server code: none of them may load in a client process. */
export const SERVER_PACKAGES = [
  '@signup/api',
  '@signup/auth',
  '@signup/db',
  '@signup/kv',
  '@signup/sms',
  '@signup/web',
  '@prisma/',
  'ioredis',
  'pg',
  'next',
] as const

/** The bare specifier names a server package (`pg` and `pg/lib/x`, but not `pgpass`). */
export function isServerSpecifier(specifier: string): boolean {
  return SERVER_PACKAGES.some((name) =>
    name.endsWith('/')
      ? specifier.startsWith(name)
      : specifier === name || specifier.startsWith(`${name}/`),
  )
}

/** The lines of a load log whose specifier or file is server code. */
export function serverModulesIn(log: string): string[] {
  return log
    .split('\n')
    .filter((line) => line !== '')
    .filter((line) => {
      const [specifier = '', url = ''] = line.split(' ')
      return (
        isServerSpecifier(specifier) ||
        /\/(packages\/(api|auth|db|kv|sms)|apps\/web)\//.test(url) ||
        /\/node_modules\/(@prisma\/|ioredis\/|pg\/|next\/)/.test(url)
      )
    })
}
