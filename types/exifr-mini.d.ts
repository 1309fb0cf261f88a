/** exifr's mini build (orientation and a few tags, 29 KB): the package types only its full entry point. */
declare module 'exifr/dist/mini.esm.mjs' {
  /** The EXIF Orientation tag (1-8) of a JPEG, HEIC or TIFF, or undefined when there is none. */
  export function orientation(input: Uint8Array | ArrayBuffer): Promise<number | undefined>;
}
