import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'runs/', 'results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // core/ runs unchanged in Node and in browsers: no Node built-ins, no DOM, no runtime packages.
    files: ['core/**/*.ts'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'core/ must not use Node APIs: put I/O in sdk-node/.' },
            { group: ['fs', 'fs/*', 'path', 'os', 'child_process', 'worker_threads', 'url', 'util', 'stream', 'buffer', 'crypto', 'zlib'], message: 'core/ must not use Node APIs.' },
            { group: ['onnxruntime-*', 'sharp', '@tensorflow/*'], message: 'core/ is runtime-free.' },
            { group: ['../sdk-node/*', '../sdk-web/*', '../training/*', '../export/*', '../cli/*', '../../sdk-node/*', '../../sdk-web/*', '../../training/*', '../../export/*', '../../cli/*'], message: 'core/ imports nothing from the runtime folders.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'window', 'document', '__dirname', 'require'],
    },
  },
);
