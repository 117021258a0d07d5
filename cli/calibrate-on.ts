import type { CalibrateOn } from '../export/command.ts';
import { calibrateActivations, calibrationImages } from '../sdk-node/calibrate.ts';

/** emseg-export --int8's calibration: the Node SDK runs the observer model on the --calibrate images. */
export const calibrateOn: CalibrateOn = (specs) => async (bytes, source, observe) => {
  const images = await calibrationImages(specs);
  const ranges = await calibrateActivations(bytes, source, observe, images, {
    progress: (done, total) => process.stderr.write(`\rcalibrating: ${done}/${total} images`),
  });
  process.stderr.write('\n');
  return { ranges, images: images.length };
};
