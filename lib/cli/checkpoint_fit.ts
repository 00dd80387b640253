// Whether a data source suits a checkpoint: the same image shape (channels, height, width) and
// number of classes as the data the checkpoint's model was trained on. `eval` and `train --resume`
// ask before any work, so that a mismatch reads as one sentence instead of a failing convolution.
import type { CheckpointState } from '../train/checkpoint.js';
import type { DataSource } from './data_spec.js';

const shapeText = (shape: readonly number[]) => shape.join('×');

/** Throws a sentence when `data` does not fit the model of the checkpoint at `path`. */
export function checkDataFitsCheckpoint(state: CheckpointState, data: DataSource, path: string, command: string): void {
  const [c, h, w] = data.train.imageShape;
  const trained = state.data.imageShape;
  const channelsDiffer = c !== state.model.inChannels;
  const sizeDiffers = trained !== undefined && (trained[1] !== h || trained[2] !== w);
  const classesDiffer = data.numClasses !== state.model.numClasses;
  if (!channelsDiffer && !sizeDiffers && !classesDiffer) return;
  const was = trained ? `${shapeText(trained)} images` : `${state.model.inChannels}-channel images`;
  throw new RangeError(`${command}: ${path} holds ${state.model.name} trained on ${was} in ${state.model.numClasses} classes (${state.data.spec}), ` +
    `but ${data.spec} has ${shapeText([c, h, w])} images in ${data.numClasses} classes; give --data a source like the one it was trained on`);
}
