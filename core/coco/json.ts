import { EmsegError } from '../errors.ts';

/**
 * JSON.parse with an error that names the file and the line/column. Python's `json.dump` writes
 * `NaN` and `Infinity` by default, which is not JSON: that case gets its own message.
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const nan = /(?<![\w"])(-?Infinity|NaN)(?![\w"])/.exec(text);
    const pos = /position (\d+)/.exec(message);
    let where = '';
    if (pos) {
      const offset = Number(pos[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${offset - before.lastIndexOf('\n')}`;
    }
    if (text.trim() === '') {
      throw new EmsegError('EMSEG_JSON_SYNTAX', `${file}: file is empty, expected JSON`, { file });
    }
    const hint = nan ? ` (found ${nan[1]}, which JSON does not allow: write null or a number, e.g. json.dump(..., allow_nan=False))` : '';
    throw new EmsegError('EMSEG_JSON_SYNTAX', `${file}: invalid JSON${where}: ${message}${hint}`, { file, cause: e });
  }
}
