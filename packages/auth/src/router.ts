import { issueImageCode } from './get-image-code.ts'
import { register } from './register.ts'
import { registerInput, sendSmsCodeInput } from './schemas.ts'
import { sendSmsCode } from './send-sms-code.ts'
import { currentUser, logout } from './session.ts'
import { asProcedure, createTRPCRouter, publicProcedure } from './trpc.ts'

export const authRouter = createTRPCRouter({
  /** A new captcha with a server-chosen id, as a data URL the page can show directly. */
  getImageCode: publicProcedure.mutation(({ ctx }) =>
    asProcedure(async () => {
      const { imageCodeId, png, expiresIn } = await issueImageCode(ctx.auth, {
        clientIp: ctx.clientIp,
      })
      return { imageCodeId, image: `data:image/png;base64,${png.toString('base64')}`, expiresIn }
    }),
  ),

  sendSmsCode: publicProcedure
    .input(sendSmsCodeInput)
    .mutation(({ ctx, input }) =>
      asProcedure(() => sendSmsCode(ctx.auth, input, { clientIp: ctx.clientIp })),
    ),

  /** Verifies the SMS code, creates the account and signs it in (the session cookie). */
  register: publicProcedure
    .input(registerInput)
    .mutation(({ ctx, input }) => asProcedure(() => register(ctx.auth, input, ctx.session))),

  /** The signed-in user `{id, mobile, nickName}`, or null. */
  me: publicProcedure.query(({ ctx }) => asProcedure(() => currentUser(ctx.auth, ctx.session))),

  logout: publicProcedure.mutation(({ ctx }) => asProcedure(() => logout(ctx.auth, ctx.session))),
})

export type AuthRouter = typeof authRouter
