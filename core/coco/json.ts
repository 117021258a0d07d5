import { type ParseError, parse as parseTolerant, printParseErrorCode } from 'jsonc-parser';
import { EmsegError } from '../errors.ts';

/**
 * JSON.parse with an error that names the file, line and column. V8's own message has no position
 * any more, so on failure the text is re-scanned with jsonc-parser (comments and trailing commas
 * disallowed, i.e. strict JSON) to locate the first error. Python's `json.dump` writes `NaN` and
 * `Infinity` by default, which is not JSON: that case gets its own hint.
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    if (text.trim() === '') {
      throw new EmsegError('EMSEG_JSON_SYNTAX', `${file}: file is empty, expected JSON`, { file });
    }
    const errors: ParseError[] = [];
    try {
      parseTolerant(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    } catch {
      // jsonc-parser recurses once per nesting level: on text nested thousands deep it overflows the
      // stack. The error is then reported without its position (V8's message says what it found).
      errors.length = 0;
    }
    let where = '';
    let what = e instanceof Error ? e.message : String(e);
    let hint = '';
    if (errors.length > 0) {
      const { offset, length, error } = errors[0];
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      const token = text.slice(offset, offset + Math.min(length, 20));
      where = ` at line ${line}, column ${column}`;
      what = `${printParseErrorCode(error)}${token ? ` near ${JSON.stringify(token)}` : ''}`;
      if (/^-?(NaN|Infinity)$/.test(token)) {
        hint = ` (found ${token}, which JSON does not allow: write null or a number, e.g. Python's json.dump(..., allow_nan=False))`;
      }
    }
    throw new EmsegError('EMSEG_JSON_SYNTAX', `${file}: invalid JSON${where}: ${what}${hint}`, { file, cause: e });
  }
}
