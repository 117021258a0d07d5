import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Patterns that forbid relative imports of the named top-level folders (from any depth). */
const folders = (names, message) => ({ group: names.map((n) => `**/${n}/**`), message });
const NODE_BUILTINS = (message) => [
  { group: ['node:*'], message },
  { group: ['fs', 'fs/*', 'path', 'os', 'child_process', 'worker_threads', 'url', 'util', 'stream', 'buffer', 'crypto', 'zlib'], message },
];
const RUNTIMES = (message) => ({ group: ['onnxruntime-*', 'sharp', '@tensorflow/*'], message });

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
  // Imports run one way between folders (docs/ARCHITECTURE.md):
  //   core <- model <- onnx <- {training, export};  core <- sdk-node <- training;  core <- sdk-web <- app;  cli on all.
  {
    // core/ runs unchanged in Node and in browsers: no Node built-ins, no DOM, no runtime packages.
    files: ['core/**/*.ts'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      'no-restricted-imports': ['error', { patterns: [...NODE_BUILTINS('core/ must not use Node APIs: put I/O in sdk-node/.'), RUNTIMES('core/ is runtime-free.'), folders(['model', 'onnx', 'sdk-node', 'sdk-web', 'training', 'export', 'cli'], 'core/ imports nothing outside core/.')] }],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'window', 'document', '__dirname', 'require'],
    },
  },
  {
    // model/: the network description and detector configs that training and export share; no ML runtime.
    files: ['model/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [RUNTIMES('model/ is runtime-free: tfjs code goes in training/, ONNX graphs in export/.'), folders(['onnx', 'sdk-node', 'sdk-web', 'training', 'export', 'cli'], 'model/ imports only core/.')] }] },
  },
  {
    // onnx/: the protobuf layer (build, encode, decode, fp16).
    files: ['onnx/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [RUNTIMES('onnx/ writes and reads files; it runs no model.'), folders(['model', 'sdk-node', 'sdk-web', 'training', 'export', 'cli'], 'onnx/ imports only core/.')] }] },
  },
  {
    files: ['training/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [folders(['export', 'sdk-web', 'cli'], 'training/ imports core/, model/, onnx/ and the Node SDK\'s readers only.')] }] },
  },
  {
    files: ['export/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['@tensorflow/*'], message: 'export/ builds graphs without tfjs.' }, folders(['training', 'sdk-node', 'sdk-web', 'cli'], 'export/ imports core/, model/ and onnx/ only.')] }] },
  },
  {
    // The Node SDK installs without tfjs or the training and export code (its own package: docs/ARCHITECTURE.md).
    files: ['sdk-node/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['@tensorflow/*', 'onnxruntime-web', 'onnx-proto', 'protobufjs'], message: 'the Node SDK runs models with onnxruntime-node only.' }, folders(['model', 'onnx', 'training', 'export', 'sdk-web', 'cli'], 'sdk-node/ imports only core/.')] }] },
  },
  {
    // The web app: browser code on the web SDK and core.
    files: ['app/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'no-restricted-imports': ['error', { patterns: [...NODE_BUILTINS('app/ runs in browsers.'), RUNTIMES('app/ runs models through sdk-web/.'), folders(['model', 'onnx', 'training', 'export', 'sdk-node', 'cli'], 'app/ imports core/ and sdk-web/ only.')] }] },
  },
  {
    files: ['sdk-web/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'no-restricted-imports': ['error', { patterns: [...NODE_BUILTINS('sdk-web/ runs in browsers.'), { group: ['@tensorflow/*', 'onnxruntime-node', 'sharp'], message: 'sdk-web/ runs onnxruntime-web only.' }, folders(['model', 'onnx', 'training', 'export', 'sdk-node', 'cli'], 'sdk-web/ imports only core/.')] }] },
  },
);
