// emseg for Node: the runtime-free core plus Node file I/O.
export * from '../core/index.ts';
export { readTextFile } from './read-file.ts';
export { evaluateFiles, type EvaluateFilesOptions } from './evaluate-files.ts';
export { readImage, detectFileFormat, type ReadImageOptions } from './read-image.ts';
export { writeSynthDataset, generateSynthImage, type SynthDatasetOptions } from './synth.ts';
export { convertMasks, convertVoc, convertLabelbox } from './convert.ts';
export { writeFileAtomic } from './write-file.ts';
export { Detector, cudaInstalled, type DetectorInput, type DetectorOptions, type TileOptions, type BatchItem } from './detector.ts';
export { DetectorPool } from './detector-pool.ts';
export { readImageBytes } from './read-image.ts';
export { evaluateModelFile, type ModelEvalReport, type EvaluateModelOptions } from './evaluate-model.ts';
export { readZoo, resolveZooModel, type ZooEntry } from './zoo.ts';
export { expandInputs } from './analyze/inputs.ts';
export { runAnalysis, type AnalysisOptions, type AnalysisSummary, type ImageRecord } from './analyze/run-analysis.ts';
