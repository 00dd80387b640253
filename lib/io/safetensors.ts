// The safetensors format, read and written by the project itself: an 8-byte little-endian
// header length, a JSON header describing every tensor, then the tensors' bytes.
export { SafetensorsError } from './safetensors_error.js';
export type { SafetensorsDType } from './safetensors_dtypes.js';
export type { SafetensorsHeader, SafetensorsTensorInfo } from './safetensors_header.js';
export { readSafetensorsHeader, readSafetensorsHeaderSync } from './safetensors_file.js';
export { loadSafetensors, loadSafetensorsSync, type LoadedSafetensors } from './safetensors_load.js';
export { saveSafetensors, saveSafetensorsSync, type NamedTensors } from './safetensors_save.js';
