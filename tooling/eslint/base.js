import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Type-checked flat config shared by every package; each package passes its own directory. */
export function baseConfig(tsconfigRootDir) {
  return tseslint.config(
    {
      ignores: [
        '**/node_modules/**',
        '**/dist/**',
        '**/.next/**',
        '**/generated/**',
        '**/*.config.*',
        'next-env.d.ts',
      ],
    },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
      languageOptions: { parserOptions: { projectService: true, tsconfigRootDir } },
      rules: {
        '@typescript-eslint/consistent-type-imports': [
          'error',
          { fixStyle: 'separate-type-imports' },
        ],
        '@typescript-eslint/no-floating-promises': 'error',
        '@typescript-eslint/switch-exhaustiveness-check': [
          'error',
          { considerDefaultExhaustiveForUnions: true },
        ],
        '@typescript-eslint/no-unused-vars': [
          'error',
          { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
        ],
        'no-console': 'error',
      },
    },
    {
      // Command-line programs and benchmarks talk to a terminal on purpose.
      files: ['**/bench/**', 'src/main.ts', '**/*-cli.ts'],
      rules: { 'no-console': 'off' },
    },
  )
}
