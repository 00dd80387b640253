// Conversions between dtypes and memory formats. Float-to-float casts are differentiable.
import { native, type DeviceName, type MemoryFormat } from '../binding.js';
import { FLOAT_DTYPES, type Tensor, type DType } from '../tensor.js';
import { record } from './record.js';

/** A copy with another dtype (float16 / bfloat16 round to nearest even). */
export function cast(x: Tensor, dtype: DType): Tensor {
  const differentiable = FLOAT_DTYPES.includes(x.dtype) && FLOAT_DTYPES.includes(dtype);
  return record(native.cast(x.handle, dtype), { op: 'cast', inputs: differentiable ? [x] : [], attrs: { from: x.dtype } });
}

/** A copy on another device (same dtype, shape, memory format); differentiable. */
export function toDevice(x: Tensor, device: DeviceName): Tensor {
  const differentiable = FLOAT_DTYPES.includes(x.dtype);
  return record(native.toDevice(x.handle, device), { op: 'toDevice', inputs: differentiable ? [x] : [], attrs: { from: x.device } });
}

/** A copy stored in another memory format (same logical shape). */
export function toMemoryFormat(x: Tensor, format: MemoryFormat): Tensor {
  return record(native.toFormat(x.handle, format), { op: 'toMemoryFormat', inputs: [x], attrs: { from: x.memoryFormat } });
}
