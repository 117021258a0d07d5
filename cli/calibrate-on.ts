import type { CalibrateOn } from '../export/command.ts';

/**
 * emseg-export --int8's calibration: the Node SDK runs the observer model on the --calibrate images.
 * Loaded only when a calibration runs, so that `emseg export` without --int8 (and --help) never loads
 * ONNX Runtime.
 */
export const calibrateOn: CalibrateOn = (specs) => async (bytes, source, observe) => {
  const { calibrateActivations, calibrationImages } = await import('../sdk-node/calibrate.ts');
  const images = await calibrationImages(specs);
  const ranges = await calibrateActivations(bytes, source, observe, images, {
    progress: (done, total) => process.stderr.write(`\rcalibrating: ${done}/${total} images`),
  });
  process.stderr.write('\n');
  return { ranges, images: images.length };
};
