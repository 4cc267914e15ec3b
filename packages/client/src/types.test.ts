import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { beforeAll, describe, expect, it } from 'vitest'

// Compiles calls against the router's types, as a consumer would, and checks which ones the
// compiler refuses: types.test-d.ts is covered by pnpm typecheck; this runs in pnpm test too, and
// names the error each broken call must get (an @ts-expect-error is satisfied by any error).
const SRC = path.dirname(fileURLToPath(import.meta.url))

const PREAMBLE = `import { createAuthClient } from './client.ts'
import type { AuthClientError } from './client.ts'
const client = createAuthClient({ url: 'http://localhost:3000' })
`

const CASES = {
  valid: `export async function f() {
    const sent = await client.auth.sendSmsCode.mutate({ mobile: '13800138000', imageCode: 'AB12', imageCodeId: 'x' })
    const zero: 0 = sent.errno
    const user = await client.auth.me.query()
    return [zero, user?.mobile]
  }`,
  misspelled: `void client.auth.sendSmsCode.mutate({ mobile: '13800138000', imageCode: 'AB12', imageCodID: 'x' })`,
  missing: `void client.auth.register.mutate({ mobile: '13800138000', password: 'long enough' })`,
  wrongOutput: `export async function f() {
    const captcha = await client.auth.getImageCode.mutate()
    const size: number = captcha.image
    return size
  }`,
  unknownErrno: `export function f(error: AuthClientError) { return error.data?.errno === 5000 }`,
  signIn: `export async function f() {
    const byPassword = await client.auth.login.mutate({ mobile: '13800138000', password: 'correct horse' })
    const byCode = await client.auth.loginWithSmsCode.mutate({ mobile: '13800138000', smsCode: '123456' })
    const created: boolean = byCode.created
    const reset = await client.auth.resetPassword.mutate({ mobile: '13800138000', smsCode: '123456', password: 'new horse battery' })
    await client.auth.sendSmsCode.mutate({ mobile: '13800138000', imageCode: 'AB12', imageCodeId: 'x', purpose: 'login' })
    const zero: 0 = reset.errno
    return [byPassword.user.id, created, zero]
  }`,
  unknownPurpose: `void client.auth.sendSmsCode.mutate({ mobile: '13800138000', imageCode: 'AB12', imageCodeId: 'x', purpose: 'signup' })`,
  loginWithoutPassword: `void client.auth.login.mutate({ mobile: '13800138000' })`,
  createdIsBoolean: `export async function f() {
    const byCode = await client.auth.loginWithSmsCode.mutate({ mobile: '13800138000', smsCode: '123456' })
    const created: string = byCode.created
    return created
  }`,
} satisfies Record<string, string>

type CaseName = keyof typeof CASES
let diagnostics: Record<CaseName | 'types.test-d', ts.Diagnostic[]>

beforeAll(() => {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(SRC, '..', 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
      },
    },
  )
  if (!parsed) throw new Error('tsconfig.json could not be read')
  const files = new Map(
    Object.entries(CASES).map(([name, body]) => [
      path.join(SRC, `type-case-${name}.ts`),
      PREAMBLE + body,
    ]),
  )
  const host = ts.createCompilerHost(parsed.options)
  const getSourceFile = host.getSourceFile.bind(host)
  const fileExists = host.fileExists.bind(host)
  const readFile = host.readFile.bind(host)
  host.fileExists = (file) => files.has(file) || fileExists(file)
  host.readFile = (file) => files.get(file) ?? readFile(file)
  host.getSourceFile = (file, language, ...rest) => {
    const text = files.get(file)
    return text === undefined
      ? getSourceFile(file, language, ...rest)
      : ts.createSourceFile(file, text, language)
  }
  const testD = path.join(SRC, 'types.test-d.ts')
  const program = ts.createProgram({
    rootNames: [testD, ...files.keys()],
    options: parsed.options,
    host,
  })
  const of = (file: string): ts.Diagnostic[] => {
    const source = program.getSourceFile(file)
    if (!source) throw new Error(`${file} is not in the program`)
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
  }
  diagnostics = {
    ...(Object.fromEntries(
      Object.keys(CASES).map((name) => [name, of(path.join(SRC, `type-case-${name}.ts`))]),
    ) as Record<CaseName, ts.Diagnostic[]>),
    'types.test-d': of(testD),
  }
}, 120_000)

const summary = (list: ts.Diagnostic[]) =>
  list.map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`)

describe('end-to-end types from the router', () => {
  it('types.test-d.ts compiles: every @ts-expect-error there is an error', () => {
    expect(summary(diagnostics['types.test-d'])).toEqual([])
  })

  it('a well-formed call compiles, and the success output is typed', () => {
    expect(summary(diagnostics.valid)).toEqual([])
  })

  it('a misspelled input field does not compile', () => {
    expect(summary(diagnostics.misspelled)).toEqual([
      expect.stringMatching(/^TS(2353|2561): .*'imageCodID'/),
    ])
  })

  it('a missing input field does not compile', () => {
    expect(summary(diagnostics.missing)).toEqual([
      expect.stringMatching(/^TS2345: .*Property 'smsCode' is missing/),
    ])
  })

  it('the success output has the procedure type: a string is not a number', () => {
    expect(summary(diagnostics.wrongOutput)).toEqual([
      expect.stringMatching(/^TS2322: Type 'string' is not assignable to type 'number'/),
    ])
  })

  it('error.data.errno is the errno table: comparing with a number outside it does not compile', () => {
    expect(summary(diagnostics.unknownErrno)).toEqual([expect.stringMatching(/^TS2367: .*'5000'/)])
  })

  it('the sign-in procedures compile with their inputs, and their outputs are typed', () => {
    expect(summary(diagnostics.signIn)).toEqual([])
  })

  it('a code purpose the server does not know does not compile', () => {
    expect(summary(diagnostics.unknownPurpose)).toEqual([
      expect.stringMatching(/^TS2322: Type '"signup"' is not assignable/),
    ])
  })

  it('a password sign-in without the password does not compile', () => {
    expect(summary(diagnostics.loginWithoutPassword)).toEqual([
      expect.stringMatching(/^TS2345: .*Property 'password' is missing/),
    ])
  })

  it('loginWithSmsCode says whether it made the account, as a boolean', () => {
    expect(summary(diagnostics.createdIsBoolean)).toEqual([
      expect.stringMatching(/^TS2322: Type 'boolean' is not assignable to type 'string'/),
    ])
  })
})
