import { LoginForm } from '../src/login-form.tsx'

/** `/login`: password or SMS-code sign-in; prerendered like `/` (no data fetching). */
export default LoginForm
