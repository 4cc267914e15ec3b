import { middleware, publicProcedure, createTRPCRouter } from '@signup/trpc/init'
import { issueImageCode } from './issue-image-code.ts'
import { login } from './login.ts'
import { loginWithSmsCode } from './login-with-sms-code.ts'
import type { AuthServices } from './ports.ts'
import { register } from './register.ts'
import { resetPassword } from './reset-password.ts'
import {
  loginInput,
  loginWithSmsCodeInput,
  registerInput,
  resetPasswordInput,
  sendSmsCodeInput,
} from './schemas.ts'
import { sendSmsCode } from './send-sms-code.ts'
import { currentUser, logout } from './session.ts'

declare module '@signup/trpc/context' {
  interface ProcedureServices {
    auth: AuthServices
  }
}

/** The auth procedures' base: the context narrowed to what the auth core takes. */
const authProcedure = publicProcedure.use(
  middleware(({ ctx, next }) => next({ ctx: { auth: ctx.services.auth } })),
)

export const authRouter = createTRPCRouter({
  /** A new captcha with a server-chosen id, as a data URL the page can show directly. */
  getImageCode: authProcedure.mutation(async ({ ctx }) => {
    const { imageCodeId, png, expiresIn } = await issueImageCode(ctx.auth, {
      clientIp: ctx.clientIp,
    })
    return { imageCodeId, image: `data:image/png;base64,${png.toString('base64')}`, expiresIn }
  }),

  /** A code for one purpose: register (the default), login or reset. */
  sendSmsCode: authProcedure
    .input(sendSmsCodeInput)
    .mutation(({ ctx, input }) => sendSmsCode(ctx.auth, input, { clientIp: ctx.clientIp })),

  /** Verifies the SMS code, creates the account and signs it in (the session cookie). */
  register: authProcedure
    .input(registerInput)
    .mutation(({ ctx, input }) => register(ctx.auth, input, ctx.session)),

  /** Password sign-in; sets the session cookie. */
  login: authProcedure
    .input(loginInput)
    .mutation(({ ctx, input }) =>
      login(ctx.auth, input, { clientIp: ctx.clientIp, session: ctx.session }),
    ),

  /** Sign-in by a login code, making the account when the mobile has none (`created`). */
  loginWithSmsCode: authProcedure
    .input(loginWithSmsCodeInput)
    .mutation(({ ctx, input }) => loginWithSmsCode(ctx.auth, input, ctx.session)),

  /** A new password by a reset code: every session of the user ends, this client signs in. */
  resetPassword: authProcedure
    .input(resetPasswordInput)
    .mutation(({ ctx, input }) => resetPassword(ctx.auth, input, ctx.session)),

  /** The signed-in user `{id, mobile, nickName}`, or null. */
  me: authProcedure.query(({ ctx }) => currentUser(ctx.auth, ctx.session)),

  logout: authProcedure.mutation(({ ctx }) => logout(ctx.auth, ctx.session)),
})
