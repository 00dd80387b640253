// Turns a native result into a Tensor and, when autograd is on and an input requires grad,
// records the node that backward() will visit.
import type { NativeTensor } from '../binding.js';
import { edgeOf, isGradEnabled, type GradNode } from '../autograd.js';
import { untracked } from '../memory.js';
import { wrap, type Tensor } from '../tensor.js';

export interface RecordSpec {
  op: string;
  /** Inputs in the order the backward rule returns their gradients. */
  inputs: (Tensor | null | undefined)[];
  /** Tensors the rule needs; the node keeps aliases of them until the graph is freed. */
  saved?: Tensor[];
  /** Native results only the rule needs (argmax, batch statistics ...); the node owns them. */
  extras?: NativeTensor[];
  attrs?: Record<string, unknown>;
}

export function needsGrad(inputs: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && inputs.some((t) => t?.requiresGrad);
}

/**
 * Wraps `output`; records a node when any input requires grad. The rule sees
 * node.saved = [...saved, ...extras] in that order.
 */
export function record(output: NativeTensor, spec: RecordSpec): Tensor {
  if (!needsGrad(spec.inputs)) {
    for (const extra of spec.extras ?? []) extra.dispose();
    return wrap(output);
  }
  const saved = untracked(() => [
    ...(spec.saved ?? []).map((t) => wrap(t.handle.alias())),
    ...(spec.extras ?? []).map((h) => wrap(h)),
  ]);
  const node: GradNode = {
    op: spec.op,
    parents: spec.inputs.map(edgeOf),
    saved,
    attrs: spec.attrs ?? {},
    outputShape: output.shape,
    refs: 0,
    freed: false,
  };
  for (const edge of node.parents) if (edge && 'node' in edge) edge.node.refs++;
  return wrap(output, node);
}
