import { parseArgs } from 'node:util';
import type { CountRange } from '../../core/synth/types.ts';
import { type SynthKind, writeSynthDataset } from '../../sdk-node/synth.ts';
import { UsageError } from '../usage-error.ts';

export const synthUsage = `Usage: emseg synth tem-vesicles|haadf-nanorods --count N --seed S --size PX --out DIR [options]

Write N synthetic 16-bit TIFF micrographs (pixel size in the TIFF, ImageJ style) and their COCO
ground truth DIR/annotations.json (exact instance masks as RLE; rods also carry "rbox").
The same options give the same bytes on any machine.
  tem-vesicles     bright-field TEM: large_vesicle (low contrast), small_vesicle (dark), hole (bright)
    --large MIN-MAX  --small MIN-MAX  --holes MIN-MAX   objects per image (default 26-34, 105-135, 26-34)
  haadf-nanorods   HAADF-STEM: overlapping nanorods, intensity ~ projected thickness
    --rods MIN-MAX   rods per image (default 24-36)     --aspect MIN-MAX  (default 3-8)
  --size PX        image width and height (default 512; the field of view stays the same)
  --seed S         integer seed (default 0)`;

function range(value: string | undefined, flag: string): CountRange | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(value);
  if (!m) throw new UsageError(`${flag} must be MIN-MAX or N, received "${value}"`);
  const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
  if (hi < lo) throw new UsageError(`${flag}: MIN must not exceed MAX`);
  return [lo, hi];
}

export async function synthCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind !== 'tem-vesicles' && kind !== 'haadf-nanorods') throw new UsageError(`unknown kind "${kind ?? ''}": expected tem-vesicles or haadf-nanorods`);
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        count: { type: 'string' }, seed: { type: 'string', default: '0' }, size: { type: 'string', default: '512' }, out: { type: 'string' },
        large: { type: 'string' }, small: { type: 'string' }, holes: { type: 'string' }, rods: { type: 'string' }, aspect: { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!values.out) throw new UsageError('missing --out DIR');
  const count = Number(values.count), seed = Number(values.seed), size = Number(values.size);
  if (!Number.isInteger(count) || count < 1 || count > 100000) throw new UsageError(`--count must be an integer from 1 to 100000, received "${values.count ?? ''}"`);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, received "${values.seed}"`);
  if (!Number.isInteger(size) || size < 64 || size > 8192) throw new UsageError(`--size must be an integer from 64 to 8192, received "${values.size}"`);
  const counts: Record<string, CountRange> = {};
  for (const [name, flag] of [['large_vesicle', 'large'], ['small_vesicle', 'small'], ['hole', 'holes']] as const) {
    const r = range(values[flag], `--${flag}`);
    if (r) counts[name] = r;
  }
  const rods = range(values.rods, '--rods');
  const aspect = range(values.aspect, '--aspect');
  if (aspect && aspect[0] < 1) throw new UsageError('--aspect must be at least 1');
  const start = Date.now();
  const ds = await writeSynthDataset(
    {
      kind: kind as SynthKind, count, seed, size, out: values.out,
      tem: Object.keys(counts).length ? { counts } : undefined,
      haadf: rods || aspect ? { ...(rods ? { count: rods } : {}), ...(aspect ? { aspect } : {}) } : undefined,
    },
    (i) => process.stderr.write(`\r${kind}: ${i + 1}/${count} images`),
  );
  process.stderr.write('\n');
  const perClass = ds.categories.map((c) => `${c.name} ${ds.annotations.filter((a) => a.category_id === c.id).length}`).join(', ');
  out(`wrote ${values.out}: ${count} images, ${ds.annotations.length} objects (${perClass}) in ${((Date.now() - start) / 1000).toFixed(1)} s`);
  return 0;
}
