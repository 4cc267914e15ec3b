import reactHooks from 'eslint-plugin-react-hooks'
import { baseConfig } from './base.js'

/**
 * The base config plus React's hooks rules (the plugin's recommended set, React Compiler checks
 * included) on the files that hold React code. Only there: Playwright fixtures also call a
 * function named `use`, which the rules would take for a hook.
 */
export function reactConfig(tsconfigRootDir, { reactFiles }) {
  return [
    ...baseConfig(tsconfigRootDir),
    { ...reactHooks.configs.flat.recommended, files: reactFiles },
  ]
}
