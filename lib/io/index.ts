// File formats: reading and writing tensors.
export * from './safetensors.js';
