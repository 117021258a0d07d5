import { EmsegError } from '../errors.ts';

/**
 * The zoo table (model-zoo/zoo.json): names users pass instead of a file (`new Detector('vesicle-large')`).
 * An entry names a model file relative to model-zoo/ and optionally the classes it reports: aliases of
 * one multi-class model (vesicle-large is the vesicle model's large_vesicle class). Both SDKs read it
 * here; they differ only in where the folder is (a path in Node, a URL in browsers).
 */
export interface ZooEntry {
  file: string;
  classes?: string[];
  description?: string;
  card?: string;
}

export type ZooTable = Record<string, ZooEntry>;

/** Whether a model argument is a zoo name rather than a path or URL. */
export const looksLikeZooName = (model: string): boolean => /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(model);

export function parseZooTable(text: string, source: string): ZooTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: not valid JSON (${(e as Error).message})`, { file: source, cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: expected an object of zoo entries`, { file: source });
  for (const [name, e] of Object.entries(value)) {
    const ok = typeof e === 'object' && e !== null && typeof (e as ZooEntry).file === 'string' && ((e as ZooEntry).classes === undefined || (Array.isArray((e as ZooEntry).classes) && (e as ZooEntry).classes!.every((c) => typeof c === 'string')));
    if (!ok) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: entry "${name}" needs "file" (a string) and optional "classes" (a list of names)`, { file: source, path: name });
    // A model file stays inside the zoo folder: no absolute path, URL or "..", which would make a zoo
    // name load (or, in a browser, fetch) something from elsewhere.
    const file = (e as ZooEntry).file;
    if (file === '' || /^[a-z][a-z0-9+.-]*:|^[/\\]/i.test(file) || file.split(/[/\\]/).includes('..')) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: entry "${name}": "file" must be a path inside the zoo folder, received ${JSON.stringify(file)}`, { file: source, path: name });
    }
  }
  return value as ZooTable;
}

/** A zoo name's entry; an unknown name is an error listing the zoo. */
export function zooEntry(table: ZooTable, name: string): ZooEntry {
  const entry = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!entry) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: neither a model file nor a zoo model (zoo: ${Object.keys(table).join(', ') || 'empty'})`, { file: name });
  return entry;
}
