/**
 * The one error type emseg throws for problems a user can fix (bad input, bad arguments).
 * `code` is stable and machine-readable; `message` names the file, the record, the field, what was
 * expected and what was found. CLIs print `message` without a stack trace for these errors.
 */
export type EmsegErrorCode =
  | 'EMSEG_INVALID_ARGUMENT'
  | 'EMSEG_JSON_SYNTAX'
  | 'EMSEG_COCO_INVALID'
  | 'EMSEG_COCO_UNKNOWN_IMAGE'
  | 'EMSEG_COCO_UNKNOWN_CATEGORY'
  | 'EMSEG_RLE_INVALID'
  | 'EMSEG_FILE_READ'
  /** A file could not be written (permissions, disk full...); nothing partial is left under its name. */
  | 'EMSEG_FILE_WRITE'
  /** A worker thread died (crash, out of memory) while it held a job. */
  | 'EMSEG_WORKER_FAILED'
  /** ONNX Runtime cannot load a model (not ONNX, an operator it lacks, a provider that fails). */
  | 'EMSEG_MODEL_LOAD'
  /** ONNX Runtime failed while running a loaded model on one input, or an output is missing. */
  | 'EMSEG_MODEL_RUN'
  /** The bytes are not any image format emseg reads (or not the one the extension claims). */
  | 'EMSEG_FORMAT_UNKNOWN'
  /** A header field is impossible (bad magic, unknown data type, zero or negative size...). */
  | 'EMSEG_FORMAT_BAD_HEADER'
  /** The file ends before the data its header declares. */
  | 'EMSEG_FORMAT_TRUNCATED'
  /** A valid file using a feature emseg does not read (e.g. complex pixels, compression). */
  | 'EMSEG_FORMAT_UNSUPPORTED'
  /** Declared dimensions beyond emseg's limits, refused before any allocation. */
  | 'EMSEG_IMAGE_TOO_LARGE'
  | 'EMSEG_XML_INVALID'
  | 'EMSEG_CONVERT_INVALID';

export interface EmsegErrorDetails {
  /** File the problem was found in, when there is one. */
  file?: string;
  /** JSON-pointer-like location inside the file, e.g. `annotations[3].bbox`. */
  path?: string;
  cause?: unknown;
}

export class EmsegError extends Error {
  readonly code: EmsegErrorCode;
  readonly file: string | undefined;
  readonly path: string | undefined;

  constructor(code: EmsegErrorCode, message: string, details: EmsegErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'EmsegError';
    this.code = code;
    this.file = details.file;
    this.path = details.path;
  }
}

export function isEmsegError(e: unknown): e is EmsegError {
  return e instanceof EmsegError;
}

/**
 * JSON of a value for an error message, at most `max` characters. Safe for any parsed input: values
 * nested too deeply for JSON.stringify (it recurses; so does String() of nested arrays) are summarised.
 */
export function previewJson(value: unknown, max = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? `[${value.length} item${value.length === 1 ? '' : 's'}, nested too deeply to show]` : typeof value === 'object' && value !== null ? '{an object nested too deeply to show}' : String(value);
  }
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** Short, bounded rendering of a received value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return `${String(value)} of type number`;
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  return `${previewJson(value)} of type ${type}`;
}

/** `Expected <expected> for <name> but received <value>`, as an EMSEG_INVALID_ARGUMENT error. */
export function invalidArgument(name: string, expected: string, received: unknown): EmsegError {
  return new EmsegError(
    'EMSEG_INVALID_ARGUMENT',
    `Expected ${expected} for ${name} but received ${describeValue(received)}`,
  );
}
