// Lint rules for the whole repository. The layer rules below are the import directions that
// docs/architecture.md describes; change them together.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const components = ['./src/webhook', './src/syncer', './src/virtualnode'];
const harness = ['./src/sandbox', './src/dev', './src/commands/sandbox.ts', './src/commands/demo.ts'];
const others = (self) => components.filter((c) => c !== self);
// Peering (peer, unpeer): a library for the commands, below them and beside the components.
const peering = './src/peering';

/** Each zone: files in `target` may not import from `from`. */
const layers = [
  // The pure admission core imports nothing of ours.
  {
    target: './webhooks',
    from: ['./src', './bench', './test'],
    message: 'webhooks/ is the pure core: no imports from src/',
  },
  // The shared layer sits below the API client layer and every component.
  {
    target: './src/common',
    from: ['./src/kube', './src/kubelet', peering, ...components, ...harness, './src/commands'],
  },
  // The API client layer knows no component and no admission logic.
  { target: './src/kube', from: ['./webhooks', './src/kubelet', peering, ...components, ...harness, './src/commands'] },
  // The kubelet API library sits beside src/kube: it serves any backend and knows no component.
  { target: './src/kubelet', from: ['./webhooks', peering, ...components, ...harness, './src/commands'] },
  // Components never import each other, peering, the commands or the harness.
  ...components.map((self) => ({ target: self, from: [...others(self), peering, ...harness, './src/commands'] })),
  // Peering imports src/kube, src/common and webhooks/ only; the commands import it.
  { target: peering, from: ['./src/kubelet', ...components, ...harness, './src/commands'] },
  // The harness hosts components it does not know (src/dev assembles them).
  { target: './src/sandbox', from: [...components, './src/dev', './src/commands'] },
  // Product commands do not reach into the harness.
  {
    target: './src/commands',
    from: harness,
    except: [],
    message: 'only the sandbox and demo commands use the harness',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.sandbox/**', 'certs/out/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: layers }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      complexity: ['error', 25],
      'max-params': ['error', 5],
      'max-depth': ['error', 5],
    },
  },
  {
    // The sandbox and demo commands are the harness's own entry points.
    files: ['src/commands/sandbox.ts', 'src/commands/demo.ts'],
    rules: { 'import-x/no-restricted-paths': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    // Tests poke at untyped JSON and build fixtures with many knobs.
    rules: { complexity: 'off', 'max-params': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
