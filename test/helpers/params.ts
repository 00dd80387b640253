// The tensors the op tests differentiate: standard normal values (times `scale`), float32,
// requiring grad, kept out of any enclosing scope.
import * as rn from '../../lib/index.js';

export interface ParamOptions {
  memoryFormat?: rn.MemoryFormat;
  requiresGrad?: boolean;
  /** Multiplies the standard normal values (default 1). */
  scale?: number;
}

export function param(shape: number[], options: ParamOptions = {}): rn.Tensor {
  let t = rn.randn(shape, { memoryFormat: options.memoryFormat ?? 'contiguous' });
  if (options.scale !== undefined && options.scale !== 1) {
    const scaled = rn.noGrad(() => rn.scale(t, options.scale!));
    t.dispose();
    t = scaled;
  }
  t.requiresGrad = options.requiresGrad ?? true;
  return rn.keep(t);
}
