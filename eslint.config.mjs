// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'extension/out/**', 'extension/test/e2e/**', '.venv/**', 'server/**', 'tests/**', 'bench/**', '*.vsix'],
  },
  js.configs.recommended,
  {
    files: ['extension/src/**/*.ts', 'extension/test/unit/**/*.ts', 'vitest.config.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked, ...tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/prefer-nullish-coalescing': 'off',
      '@typescript-eslint/no-non-null-assertion': 'error',
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[property.name='innerHTML']", message: 'Use textContent; never innerHTML.' },
        { selector: "MemberExpression[property.name='outerHTML']", message: 'Use textContent; never outerHTML.' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Use DOM APIs.' },
      ],
    },
  },
  {
    files: ['extension/src/webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['extension/src/**/*.ts'],
    ignores: ['extension/src/webview/**'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['extension/src/core/**/*.ts', 'extension/src/webview/**/*.ts'],
    rules: {
      // pure modules: testable without VS Code
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'core/ and webview/ must not import vscode.' }] }],
    },
  },
  {
    files: ['extension/esbuild.mjs', 'extension/bundle-python.mjs', 'eslint.config.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
