/**
 * JPEG EXIF orientation (phone photos are stored sideways with a tag saying how to turn them),
 * read with exifr and applied with TF.js ops before anything else looks at the pixels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { orientation } from 'exifr/dist/mini.esm.mjs';

const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/** The EXIF orientation of JPEG bytes (1 when absent, unreadable, or not a JPEG). */
export async function exifOrientation(bytes: Uint8Array): Promise<number> {
  if (!JPEG_MAGIC.every((b, i) => bytes[i] === b)) return 1;
  try {
    const value = await orientation(bytes);
    return value !== undefined && Number.isInteger(value) && value >= 1 && value <= 8 ? value : 1;
  } catch {
    return 1; // a broken EXIF block must not make a decodable image unreadable
  }
}

/**
 * The image as it should be shown: EXIF orientations 2-8 are mirrors and quarter turns of the
 * stored [height, width, channels] pixels (5-8 swap height and width).
 */
export function oriented(image: tf.Tensor3D, value: number): tf.Tensor3D {
  const transposed = () => tf.transpose(image, [1, 0, 2]) as tf.Tensor3D;
  switch (value) {
    case 2:
      return tf.reverse(image, 1); // mirrored left-right
    case 3:
      return tf.reverse(image, [0, 1]); // turned 180 degrees
    case 4:
      return tf.reverse(image, 0); // mirrored top-bottom
    case 5:
      return transposed(); // mirrored along the main diagonal
    case 6:
      return tf.reverse(transposed(), 1); // stored turned 90 degrees counter-clockwise: turn it clockwise
    case 7:
      return tf.reverse(transposed(), [0, 1]); // mirrored along the other diagonal
    case 8:
      return tf.reverse(transposed(), 0); // stored turned 90 degrees clockwise: turn it back
    default:
      return image;
  }
}
