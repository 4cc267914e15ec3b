import { SignupForm } from '../src/signup-and-reset.tsx'

/** `/`: no data fetching, so `next build` prerenders it to static HTML. */
export default SignupForm
