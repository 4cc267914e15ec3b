export default function HomePage() {
  return (
    <main>
      <h1>手机号注册</h1>
      <p>
        The signup form arrives with the next release. The API is live at /api/trpc and /passport.
      </p>
    </main>
  )
}
