import { Providers } from './providers.tsx'
import { SignupForm } from './signup-form.tsx'

export default function HomePage() {
  return (
    <Providers>
      <SignupForm />
    </Providers>
  )
}
