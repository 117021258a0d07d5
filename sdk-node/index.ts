// emseg for Node: the runtime-free core plus Node file I/O.
export * from '../core/index.ts';
export { readTextFile } from './read-file.ts';
export { evaluateFiles, type EvaluateFilesOptions } from './evaluate-files.ts';
