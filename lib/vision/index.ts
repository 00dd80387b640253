// Images in, tensors out: decoding and torchvision-style transforms (sharp underneath), and the
// ImageNet class names.
export * as transforms from './transforms.js';
export { loadImage, resizeImage, centerCropImage, type Image, type ImageInput, type Size } from './image.js';
export { imagenetClasses } from './imagenet_classes.js';
