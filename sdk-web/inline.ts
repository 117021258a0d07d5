// `emseg/web/inline`: the web engine in the calling context (a worker of your own, tests), with the decoders.
export { InlineDetector, type ModelSource, type WebDetectorOptions, type WebExecutionProvider, type WebImageInput } from './inline-detector.ts';
export { browserDecoders } from './decoders.ts';
export { decodeImage } from '../core/formats/decode-image.ts';

import { setBundleBase } from './inline-detector.ts';

setBundleBase(new URL('./', import.meta.url).href);
