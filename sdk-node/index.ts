// emseg for Node: the runtime-free core plus Node file I/O.
export * from '../core/index.ts';
export { readTextFile } from './read-file.ts';
export { evaluateFiles, type EvaluateFilesOptions } from './evaluate-files.ts';
export { readImage, detectFileFormat, type ReadImageOptions } from './read-image.ts';
export { writeSynthDataset, generateSynthImage, type SynthDatasetOptions } from './synth.ts';
export { convertMasks, convertVoc, convertLabelbox } from './convert.ts';
export { writeFileAtomic } from './write-file.ts';
