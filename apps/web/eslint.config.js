import { reactConfig } from '@signup/eslint-config/react'

export default reactConfig(import.meta.dirname, {
  reactFiles: ['pages/**/*.{ts,tsx}', 'src/**/*.{ts,tsx}'],
})
