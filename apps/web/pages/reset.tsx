import { ResetForm } from '../src/signup-and-reset.tsx'

/** `/reset`: the password reset by SMS code; prerendered like `/` (no data fetching). */
export default ResetForm
