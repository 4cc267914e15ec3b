// Type-level tests, checked by `tsc --noEmit` (pnpm typecheck) and never run: each line fails to
// compile if the end-to-end types from the router break. types.test.ts checks the errors too.
import { expectTypeOf } from 'vitest'
import { createAuthClient, refusalOf } from './client.ts'
import type { AuthClientError, AuthInputs, AuthOutputs, Errno, Refusal } from './client.ts'

const client = createAuthClient({ url: 'http://localhost:3000' })

export async function inputs(): Promise<void> {
  await client.auth.sendSmsCode.mutate({
    mobile: '13800138000',
    imageCode: 'AB12',
    imageCodeId: 'x',
  })
  await client.auth.sendSmsCode.mutate({
    mobile: '13800138000',
    imageCode: 'AB12',
    // @ts-expect-error a misspelled field (imageCodID) is an unknown property
    imageCodID: 'x',
  })
  // @ts-expect-error a missing field (imageCodeId)
  await client.auth.sendSmsCode.mutate({ mobile: '13800138000', imageCode: 'AB12' })
  await client.auth.register.mutate({
    // @ts-expect-error a number where the schema wants a string
    mobile: 13800138000,
    smsCode: '123456',
    password: 'pw123456',
  })
  await client.auth.sendSmsCode.mutate({
    mobile: '13800138000',
    imageCode: 'AB12',
    imageCodeId: 'x',
    purpose: 'reset',
  })
  await client.auth.sendSmsCode.mutate({
    mobile: '13800138000',
    imageCode: 'AB12',
    imageCodeId: 'x',
    // @ts-expect-error a purpose the server does not know
    purpose: 'signup',
  })
  await client.auth.login.mutate({ mobile: '13800138000', password: 'correct horse' })
  // @ts-expect-error login takes a password, not a code
  await client.auth.login.mutate({ mobile: '13800138000', smsCode: '123456' })
  await client.auth.loginWithSmsCode.mutate({ mobile: '13800138000', smsCode: '123456' })
  // @ts-expect-error loginWithSmsCode needs the code
  await client.auth.loginWithSmsCode.mutate({ mobile: '13800138000' })
  await client.auth.resetPassword.mutate({
    mobile: '13800138000',
    smsCode: '123456',
    password: 'new horse battery',
  })
  // @ts-expect-error resetPassword needs the new password
  await client.auth.resetPassword.mutate({ mobile: '13800138000', smsCode: '123456' })
  // @ts-expect-error getImageCode takes no input
  await client.auth.getImageCode.mutate({ imageCodeId: 'x' })
  // @ts-expect-error me is a query, not a mutation
  await client.auth.me.mutate() // eslint-disable-line @typescript-eslint/no-unsafe-call
  // @ts-expect-error no such procedure
  await client.auth.sendSmsCodes.mutate() // eslint-disable-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access

  // purpose is optional: the original front end never sends it (docs/contract.md section 9).
  expectTypeOf<AuthInputs['auth']['sendSmsCode']>().toEqualTypeOf<{
    mobile: string
    imageCode: string
    imageCodeId: string
    purpose?: 'register' | 'login' | 'reset' | undefined
  }>()
  expectTypeOf<AuthInputs['auth']['register']>().toEqualTypeOf<{
    mobile: string
    smsCode: string
    password: string
  }>()
  expectTypeOf<AuthInputs['auth']['login']>().toEqualTypeOf<{ mobile: string; password: string }>()
  expectTypeOf<AuthInputs['auth']['loginWithSmsCode']>().toEqualTypeOf<{
    mobile: string
    smsCode: string
  }>()
  expectTypeOf<AuthInputs['auth']['resetPassword']>().toEqualTypeOf<{
    mobile: string
    smsCode: string
    password: string
  }>()
}

export async function outputs(): Promise<void> {
  const captcha = await client.auth.getImageCode.mutate()
  expectTypeOf(captcha).toEqualTypeOf<AuthOutputs['auth']['getImageCode']>()
  expectTypeOf(captcha).toEqualTypeOf<{ imageCodeId: string; image: string; expiresIn: number }>()

  const sent = await client.auth.sendSmsCode.mutate({
    mobile: '13800138000',
    imageCode: captcha.imageCodeId,
    imageCodeId: captcha.imageCodeId,
  })
  // errno on success is the literal 0, so a switch on it narrows.
  expectTypeOf(sent.errno).toEqualTypeOf<0>()
  expectTypeOf(sent).toMatchObjectType<{ errmsg: string; expiresIn: number; resendIn: number }>()

  const registered = await client.auth.register.mutate({
    mobile: '13800138000',
    smsCode: '123456',
    password: 'correct horse',
  })
  expectTypeOf(registered.errno).toEqualTypeOf<0>()
  expectTypeOf(registered.user).toEqualTypeOf<{ id: number; mobile: string; nickName: string }>()

  const me = await client.auth.me.query()
  expectTypeOf(me).toEqualTypeOf<{ id: number; mobile: string; nickName: string } | null>()
  // @ts-expect-error me may be null: its fields need a check first
  void me.mobile

  type User = { id: number; mobile: string; nickName: string }
  const signedIn = await client.auth.login.mutate({ mobile: '13800138000', password: 'pw123456' })
  expectTypeOf(signedIn.errno).toEqualTypeOf<0>()
  expectTypeOf(signedIn).toEqualTypeOf<{ errno: 0; errmsg: string; user: User }>()

  const byCode = await client.auth.loginWithSmsCode.mutate({
    mobile: '13800138000',
    smsCode: '123456',
  })
  expectTypeOf(byCode).toEqualTypeOf<{ errno: 0; errmsg: string; user: User; created: boolean }>()

  const reset = await client.auth.resetPassword.mutate({
    mobile: '13800138000',
    smsCode: '123456',
    password: 'new horse battery',
  })
  expectTypeOf(reset).toEqualTypeOf<{ errno: 0; errmsg: string; user: User }>()

  const loggedOut = await client.auth.logout.mutate()
  expectTypeOf(loggedOut).toMatchObjectType<{ errno: 0; errmsg: string }>()
}

export function errors(error: AuthClientError, unknownError: unknown): void {
  // error.data carries the errno table (docs/http-api.md), typed from the server's error formatter.
  expectTypeOf(error.data).toExtend<
    { errno: Errno; errmsg: string; retryAfter?: number; field?: string } | null | undefined
  >()
  if (error.data) {
    expectTypeOf(error.data.errno).toEqualTypeOf<Errno>()
    expectTypeOf(error.data.errmsg).toEqualTypeOf<string>()
    expectTypeOf(error.data.retryAfter).toEqualTypeOf<number | undefined>()
    expectTypeOf(error.data.httpStatus).toEqualTypeOf<number>()
    // @ts-expect-error errno is one of the table's numbers, never a string
    const asString: string = error.data.errno
    void asString
  }
  // The table's numbers and no others.
  expectTypeOf<4003>().toExtend<Errno>()
  expectTypeOf<4201>().toExtend<Errno>()
  // @ts-expect-error 4999 is not in the errno table
  expectTypeOf<4999>().toExtend<Errno>()

  const refusal = refusalOf(unknownError)
  expectTypeOf(refusal).toEqualTypeOf<Refusal | null>()
  if (refusal) {
    expectTypeOf(refusal.errno).toEqualTypeOf<Errno>()
    expectTypeOf(refusal.retryAfter).toEqualTypeOf<number | undefined>()
  }
}
