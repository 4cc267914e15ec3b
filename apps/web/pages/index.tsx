import Head from 'next/head'
import { Providers } from '../src/providers.tsx'
import { SignupForm } from '../src/signup-form.tsx'

/** `/`: no data fetching, so `next build` prerenders it to static HTML. */
export default function HomePage() {
  return (
    <>
      <Head>
        <title>手机号注册</title>
        <meta name="description" content="Phone number signup" />
      </Head>
      <Providers>
        <SignupForm />
      </Providers>
    </>
  )
}
