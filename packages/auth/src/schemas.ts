// zod/mini: the same schemas run in the signup page, where full zod would weigh ~40 KB more.
import * as z from 'zod/mini'
import type { RetParams } from '@signup/trpc/input-refusal'
import { RET_MESSAGE } from '@signup/trpc/ret'

/** Mainland China mobiles (docs/contract.md section 6). `\d` without the u flag is ASCII only, so
 * full-width digits fail, and `$` does not match before a trailing newline as Python's does. */
export const MOBILE_PATTERN = /^1[3-9]\d{9}$/

export const MOBILE_FORMAT_MESSAGE = '手机号不正确'

/** A present, non-empty string; later checks of the same field only run when this one passed. */
const present = z.minLength(1, { error: RET_MESSAGE.PARAMERR, abort: true })
const atMost = (length: number) => z.maxLength(length, { error: RET_MESSAGE.PARAMERR })
const aString = () => z.string({ error: RET_MESSAGE.PARAMERR })

/** A mobile as typed: a leading +86 is accepted and stripped; anything else must be 11 digits. */
export const mobileSchema = aString().check(
  present,
  z.overwrite((value) => (value.startsWith('+86') ? value.slice(3) : value)),
  z.refine((value) => MOBILE_PATTERN.test(value), {
    error: MOBILE_FORMAT_MESSAGE,
    params: { ret: 'DATAERR' } satisfies RetParams,
  }),
)

/** The id of a captcha, whether the server picked it (UUID) or a legacy client did. */
export const imageCodeIdSchema = aString().check(
  z.regex(/^[A-Za-z0-9-]{8,64}$/, { error: RET_MESSAGE.PARAMERR }),
)

/**
 * What a code is sent for, and the only thing it is accepted for (docs/contract.md section 9):
 * `register` is the original's, `login` signs in (making the account if need be), `reset` sets a
 * new password.
 */
export const SMS_CODE_PURPOSES = ['register', 'login', 'reset'] as const
export type SmsCodePurpose = (typeof SMS_CODE_PURPOSES)[number]

/** Input of auth.sendSmsCode, shared by the signup form and the procedure. */
export const sendSmsCodeInput = z.object({
  mobile: mobileSchema,
  imageCode: aString().check(present, atMost(16)),
  imageCodeId: aString().check(present, atMost(64)),
  // Absent for the original front end, which only ever asked for register codes.
  purpose: z._default(z.enum(SMS_CODE_PURPOSES, { error: RET_MESSAGE.PARAMERR }), 'register'),
})

export type SendSmsCodeParsed = z.output<typeof sendSmsCodeInput>

export const SMS_CODE_WRONG_MESSAGE = '短信验证码错误'
export const PASSWORD_LENGTH_MESSAGE = '密码长度应为 8 到 128 个字符'
export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 128

/** An SMS code as typed: six ASCII digits; anything else can never match, so it is DATAERR
 * without a lookup (and without spending an attempt). */
export const smsCodeSchema = aString().check(
  present,
  z.refine((value) => /^\d{6}$/.test(value), {
    error: SMS_CODE_WRONG_MESSAGE,
    params: { ret: 'DATAERR' } satisfies RetParams,
  }),
)

/** A password: 8 to 128 characters counted in code points, not UTF-16 units, so an emoji is one
 * character as the user sees it. Not trimmed. */
export const passwordSchema = aString().check(
  present,
  z.refine(
    (value) => {
      const length = [...value].length
      return length >= PASSWORD_MIN_LENGTH && length <= PASSWORD_MAX_LENGTH
    },
    { error: PASSWORD_LENGTH_MESSAGE, params: { ret: 'PARAMERR' } satisfies RetParams },
  ),
)

/** Input of auth.register, shared by the signup form and the procedure. */
export const registerInput = z.object({
  mobile: mobileSchema,
  smsCode: smsCodeSchema,
  password: passwordSchema,
})

export type RegisterParsed = z.output<typeof registerInput>

/** Input of auth.login (password sign-in), shared by the sign-in form and the procedure. */
export const loginInput = z.object({
  mobile: mobileSchema,
  password: passwordSchema,
})

export type LoginParsed = z.output<typeof loginInput>

/** Input of auth.loginWithSmsCode, shared by the sign-in form and the procedure. */
export const loginWithSmsCodeInput = z.object({
  mobile: mobileSchema,
  smsCode: smsCodeSchema,
})

export type LoginWithSmsCodeParsed = z.output<typeof loginWithSmsCodeInput>

/** Input of auth.resetPassword: the reset code and the new password. */
export const resetPasswordInput = z.object({
  mobile: mobileSchema,
  smsCode: smsCodeSchema,
  password: passwordSchema,
})

export type ResetPasswordParsed = z.output<typeof resetPasswordInput>

/** Input of auth.logout, and of the legacy logout routes: nothing. */
export const noInput = z.object({})
