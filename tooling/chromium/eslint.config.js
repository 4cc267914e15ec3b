import { baseConfig } from '@signup/eslint-config/base'

export default baseConfig(import.meta.dirname)
