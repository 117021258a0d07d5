/** Pixel types emseg reads; names as numpy writes them. */
export type PixelDType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

export type PixelArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/** Physical size of one pixel, always in nanometres. */
export interface PixelSize {
  x: number;
  y: number;
}

/**
 * A decoded single-channel EM image. `data` is row-major with the top row as a microscope program
 * displays it (SER files, stored bottom-up, are flipped), one value per pixel in `dtype`.
 */
export interface EmImage {
  /** Short format name: 'DM3', 'DM4', 'MRC', 'SER', 'EMD-Velox', 'EMD-Berkeley', 'TIFF', 'PNG', 'JPEG'. */
  format: string;
  width: number;
  height: number;
  dtype: PixelDType;
  data: PixelArray;
  /** nm per pixel when the file carries a length calibration; null otherwise (uncalibrated, or reciprocal space). */
  pixelSize: PixelSize | null;
  /**
   * Everything else worth keeping, format-specific. Conventions: `calibration: {x, y, unit}` as stored
   * (e.g. unit 'µm', 'Å', '1/nm') whether or not it is a length; `pages` when the file holds a stack
   * (`page` says which one `data` is); `origin` in pixels where the format has one.
   */
  metadata: Record<string, unknown>;
}

/** Options every reader accepts. */
export interface ReadOptions {
  /** Index of the image in a stack or multi-image file (default 0). */
  page?: number;
  /** Name used in error messages (a path, usually). */
  name?: string;
}
