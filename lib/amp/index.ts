// rn.amp: mixed precision (autocast) and dynamic loss scaling (GradScaler).
export { autocast, autocastDtype, type AutocastOptions, type LowPrecision } from './autocast.js';
export { GradScaler, type GradScalerOptions, type GradScalerState } from './grad_scaler.js';
