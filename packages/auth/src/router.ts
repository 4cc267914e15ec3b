import { issueImageCode } from './get-image-code.ts'
import { sendSmsCodeInput } from './schemas.ts'
import { sendSmsCode } from './send-sms-code.ts'
import { asProcedure, createTRPCRouter, publicProcedure } from './trpc.ts'

export const authRouter = createTRPCRouter({
  /** A new captcha with a server-chosen id, as a data URL the page can show directly. */
  getImageCode: publicProcedure.mutation(({ ctx }) =>
    asProcedure(async () => {
      const { imageCodeId, png, expiresIn } = await issueImageCode(ctx.auth)
      return { imageCodeId, image: `data:image/png;base64,${png.toString('base64')}`, expiresIn }
    }),
  ),

  sendSmsCode: publicProcedure
    .input(sendSmsCodeInput)
    .mutation(({ ctx, input }) => asProcedure(() => sendSmsCode(ctx.auth, input))),
})

export type AuthRouter = typeof authRouter
