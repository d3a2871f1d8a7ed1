import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.riglab/', 'test-artifacts/', 'coverage/', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unsafe-function-type': 'off',
      // process.env is read in exactly one file (STYLE.md).
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'read configuration through api/src/platform/config/config.ts' },
      ],
    },
  },
  {
    files: ['api/src/platform/config/config.ts', 'test/**', 'bench/**', '**/*.spec.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
