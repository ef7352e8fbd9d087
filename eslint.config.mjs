// Lint: typescript-eslint's recommended rules over src/ and test/; Prettier owns layout, so the rules
// that would argue with it are off (eslint-config-prettier).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'release/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    rules: {
      // A file this long is usually doing more than one job: worth a look, not a failed build.
      'max-lines': ['warn', { max: 400, skipBlankLines: true, skipComments: true }],
      // The CLI loads what a command needs only when that command runs, so the runs that do no pass
      // start fast: those loads are require() calls typed with typeof import().
      '@typescript-eslint/no-require-imports': 'off',
      // Terminal text is cleaned of control characters by a pattern that must name them.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
