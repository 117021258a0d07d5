import type { CocoCategory, IouType } from '../coco/types.ts';
import type { EvalResult } from './coco-eval.ts';
import { STAT_NAMES, STAT_SPECS, type EvalStats } from './summarize.ts';

/** The machine-readable evaluation summary (`emseg eval --json`). */
export interface EvalReport {
  iouType: IouType;
  stats: EvalStats;
  perCategoryAP: Record<string, number>;
}

export function evalReport(result: EvalResult): EvalReport {
  return {
    iouType: result.iouType,
    stats: { ...result.stats },
    perCategoryAP: Object.fromEntries([...result.perCategoryAP].map(([id, ap]) => [String(id), ap])),
  };
}

const fmt = (v: number): string => (v < 0 ? '   n/a' : v.toFixed(3).padStart(6));

/** pycocotools-style summary lines followed by a per-category AP table. */
export function formatEvalTable(result: EvalResult, categories: readonly CocoCategory[]): string {
  const lines: string[] = [`iouType: ${result.iouType}`];
  STAT_SPECS.forEach((spec, i) => {
    const title = spec.ap ? 'Average Precision  (AP)' : 'Average Recall     (AR)';
    const iou = spec.iouThr === undefined ? '0.50:0.95' : spec.iouThr.toFixed(2).padEnd(9);
    const value = result.statsArray[i];
    lines.push(
      ` ${title} @[ IoU=${iou} | area=${spec.area.padStart(6)} | maxDets=${String(result.params.maxDets[spec.maxDetsIndex]).padStart(3)} ] = ${fmt(value)}   ${STAT_NAMES[i]}`,
    );
  });
  const names = new Map(categories.map((c) => [c.id, c.name]));
  const width = Math.max(8, ...categories.map((c) => c.name.length));
  lines.push('', `${'category'.padEnd(width)}    id      AP`);
  for (const [id, ap] of result.perCategoryAP) {
    lines.push(`${(names.get(id) ?? '?').padEnd(width)} ${String(id).padStart(5)}  ${fmt(ap)}`);
  }
  return lines.join('\n');
}
