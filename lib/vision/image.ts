// Decoded images and the geometric steps torchvision applies to them before a classifier:
// resize (the shorter side, or to an exact size) and centre crop. Decoding and resampling are
// sharp's (libvips); crops are done here, with torchvision's rounding.
import sharp from 'sharp';

/** A decoded image: (H, W, C) bytes, C = 3 (RGB) or 1 (grey). */
export interface Image {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** A file name, or the bytes of a JPEG, PNG, WebP, GIF, TIFF ... file. */
export type ImageInput = string | Uint8Array;

function describe(input: ImageInput): string {
  return typeof input === 'string' ? input : `a ${input.length}-byte buffer`;
}

/** Decodes `input` to RGB (or grey with channels: 1), alpha dropped. A corrupt file is an Error naming it. */
export async function loadImage(input: ImageInput, options: { channels?: 1 | 3 } = {}): Promise<Image> {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new TypeError(`loadImage: expected a file name or the bytes of an image file, got ${input === null ? 'null' : typeof input}`);
  }
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`loadImage: channels must be 1 or 3, got ${String(channels)}`);
  let pipeline = sharp(input).removeAlpha();
  pipeline = channels === 1 ? pipeline.grayscale() : pipeline.toColourspace('srgb');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true }).catch((err: Error) => {
    throw new Error(`loadImage: cannot decode ${describe(input)} as an image (${err.message})`);
  });
  if (info.channels !== channels) throw new Error(`loadImage: ${describe(input)} decoded to ${info.channels} channels, expected ${channels}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels };
}

export type Size = number | [number, number];

/** A size option: a positive integer or [height, width] of them; anything else is a RangeError. */
export function checkSize(op: string, size: unknown): [number, number] | number {
  const ok = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (ok(size)) return size as number;
  if (Array.isArray(size) && size.length === 2 && size.every(ok)) return [size[0], size[1]];
  throw new RangeError(`${op}: size must be a positive integer or [height, width], got ${JSON.stringify(size)}`);
}

/**
 * torchvision's Resize: a number scales the shorter side to it, keeping the aspect ratio (the
 * longer side truncated, as torchvision does); [h, w] resizes to exactly that. Bilinear, with
 * antialiasing when shrinking.
 */
export async function resizeImage(image: Image, size: Size): Promise<Image> {
  const s = checkSize('resize', size);
  let [height, width] = Array.isArray(s) ? s : [0, 0];
  if (!Array.isArray(s)) {
    const shortIsHeight = image.height <= image.width;
    const [short, long] = shortIsHeight ? [image.height, image.width] : [image.width, image.height];
    const newLong = Math.floor((s * long) / short);
    [height, width] = shortIsHeight ? [s, newLong] : [newLong, s];
  }
  if (height === image.height && width === image.width) return image;
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: image.channels };
}

/** Python's round(): halves to even (torchvision's crop offsets use it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's CenterCrop: the central [h, w] (a number: square); the image must be at least that big. */
export function centerCropImage(image: Image, size: Size): Image {
  const s = checkSize('centerCrop', size);
  const [height, width] = Array.isArray(s) ? s : [s, s];
  if (height > image.height || width > image.width) {
    throw new RangeError(`centerCrop: cannot crop ${width}x${height} from a ${image.width}x${image.height} image; resize it first`);
  }
  const top = roundHalfEven((image.height - height) / 2);
  const left = roundHalfEven((image.width - width) / 2);
  const c = image.channels;
  const data = new Uint8Array(height * width * c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * c;
    data.set(image.data.subarray(from, from + width * c), y * width * c);
  }
  return { data, width, height, channels: image.channels };
}
