import { parseJsonText } from './json.ts';
import type { CocoDataset, CocoDetection, IouType } from './types.ts';
import { parseCocoDataset, parseCocoResults, requireGeometry } from './validate.ts';

/** Parse and validate a COCO dataset from JSON text; a missing `area` is the mask's pixel count. */
export function loadCocoDataset(text: string, file: string): CocoDataset {
  return parseCocoDataset(parseJsonText(text, file), file);
}

/** Parse and validate a COCO results list against its ground truth for one iouType. */
export function loadCocoResults(text: string, file: string, gt: CocoDataset, iouType: IouType): CocoDetection[] {
  return parseCocoResults(parseJsonText(text, file), file, gt, iouType);
}

/** Ground truth ready for evaluation: validated and carrying the geometry `iouType` needs. */
export function loadGroundTruth(text: string, file: string, iouType: IouType): CocoDataset {
  const gt = loadCocoDataset(text, file);
  requireGeometry(gt, iouType, file);
  return gt;
}

/** Serialise a dataset or results list as COCO JSON (compact, as pycocotools writes it). */
export function stringifyCoco(value: CocoDataset | readonly CocoDetection[]): string {
  return JSON.stringify(value);
}
