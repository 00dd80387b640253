// ONNX export of the models.
export { exportModel, encodeModel, type ExportOptions } from './export.js';
