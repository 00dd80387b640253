// Define-by-run autograd, micrograd-sized. Each differentiable op records a node with its
// parents and the tensors its backward rule needs; backward() walks the nodes in reverse
// topological order and calls the rule for each op from the one table in ops/grad.ts.
// Nodes are reference counted (by the tensors they produced and by their children), so a
// graph that is never differentiated is freed as soon as its outputs are disposed.
import type { Tensor } from './tensor.js';

/** Where a gradient flows: into another node, or into a leaf tensor's .grad. */
export type Edge = { node: GradNode } | { leaf: Tensor } | null;

export interface GradNode {
  readonly op: string;
  readonly parents: Edge[];
  /** Tensors kept for the backward rule (aliases of the originals, owned by the node). */
  saved: Tensor[];
  readonly attrs: Record<string, unknown>;
  readonly outputShape: readonly number[];
  refs: number;
  freed: boolean;
}

export type BackwardRule = (node: GradNode, gradOutput: Tensor) => (Tensor | null)[];

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording operations for autograd. */
export function noGrad<R>(fn: () => R): R {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export function edgeOf(t: Tensor | null | undefined): Edge {
  if (!t || !t.requiresGrad) return null;
  if (t._node) return { node: t._node };
  return { leaf: t };
}

export function retainNode(node: GradNode): void {
  node.refs++;
}

/** Frees the saved tensors of a node and the chain behind it once nothing refers to it. */
export function releaseNode(node: GradNode): void {
  if (--node.refs > 0) return;
  freeSaved(node);
  for (const edge of node.parents) if (edge && 'node' in edge) releaseNode(edge.node);
}

function freeSaved(node: GradNode): void {
  for (const t of node.saved) t.dispose();
  node.saved = [];
  node.freed = true;
}

function topologicalOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  const stack: [GradNode, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [node, next] = top;
    if (next < node.parents.length) {
      top[1]++;
      const edge = node.parents[next];
      if (edge && 'node' in edge && !visited.has(edge.node)) {
        visited.add(edge.node);
        stack.push([edge.node, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order.reverse();
}

const gradHooks = new WeakMap<Tensor, ((leaf: Tensor) => void)[]>();
let endOfBackward: (() => void)[] | null = null;

/**
 * Calls hook(leaf) in every backward() once the leaf's .grad has received all of that pass's
 * contributions (PyTorch's register_post_accumulate_grad_hook). Returns the function that removes it.
 */
export function registerPostAccumulateGradHook(leaf: Tensor, hook: (leaf: Tensor) => void): () => void {
  const hooks = gradHooks.get(leaf) ?? [];
  hooks.push(hook);
  gradHooks.set(leaf, hooks);
  return () => {
    const i = hooks.indexOf(hook);
    if (i >= 0) hooks.splice(i, 1);
  };
}

/** During backward(): runs fn once the pass is done (after every gradient hook). */
export function queueBackwardCallback(fn: () => void): void {
  if (!endOfBackward) throw new Error('queueBackwardCallback: only a gradient hook, during backward(), can queue a callback');
  endOfBackward.push(fn);
}

export interface BackwardHooks {
  rules: Record<string, BackwardRule>;
  /** a + b as a new tensor (neither argument is consumed). */
  add(a: Tensor, b: Tensor): Tensor;
  /** A new reference to the same storage. */
  alias(t: Tensor): Tensor;
}

/**
 * Accumulates d(root)/d(leaf) into every leaf's .grad. gradOutput is owned by the caller.
 * Without retainGraph the saved tensors of every visited node are freed.
 */
export function runBackward(root: GradNode, gradOutput: Tensor, retainGraph: boolean, hooks: BackwardHooks): void {
  const order = topologicalOrder(root);
  for (const node of order) {
    if (node.freed) {
      throw new Error(
        `backward: the graph through '${node.op}' was already freed by an earlier backward(); ` +
          'pass { retainGraph: true } to the first backward() to differentiate twice',
      );
    }
  }
  // Leaves with hooks: the contributions of this pass still to come.
  const awaited = new Map<Tensor, number>();
  for (const node of order) {
    for (const edge of node.parents) if (edge && 'leaf' in edge && gradHooks.get(edge.leaf)?.length) awaited.set(edge.leaf, (awaited.get(edge.leaf) ?? 0) + 1);
  }
  const arrived = (node: GradNode) => {
    for (const edge of node.parents) {
      if (!edge || !('leaf' in edge) || !awaited.has(edge.leaf)) continue;
      const left = awaited.get(edge.leaf)! - 1;
      awaited.set(edge.leaf, left);
      if (left === 0 && edge.leaf.grad) for (const hook of [...gradHooks.get(edge.leaf)!]) hook(edge.leaf);
    }
  };
  const outer = endOfBackward;
  endOfBackward = [];
  const pending = new Map<GradNode, Tensor>([[root, hooks.alias(gradOutput)]]);
  try {
    for (const node of order) {
      const grad = pending.get(node);
      pending.delete(node);
      if (!grad) {
        arrived(node);
        continue;
      }
      const rule = hooks.rules[node.op];
      if (!rule) throw new Error(`backward: no backward rule for op '${node.op}'`);
      let inputGrads: (Tensor | null)[];
      try {
        inputGrads = rule(node, grad);
      } finally {
        grad.dispose();
      }
      node.parents.forEach((edge, i) => {
        const g = inputGrads[i];
        if (!edge || !g) return;
        if ('leaf' in edge) {
          const leaf = edge.leaf;
          if (leaf.disposed) throw new Error(`backward: a tensor that requires grad (shape [${leaf.shape}]) was disposed before backward()`);
          const previous = leaf.grad;
          leaf.grad = previous ? hooks.add(previous, g) : hooks.alias(g);
          previous?.dispose();
        } else {
          const previous = pending.get(edge.node);
          pending.set(edge.node, previous ? hooks.add(previous, g) : hooks.alias(g));
          previous?.dispose();
        }
      });
      for (const g of new Set(inputGrads)) g?.dispose();
      if (!retainGraph) freeSaved(node);
      arrived(node);
    }
    for (const fn of endOfBackward) fn();
  } finally {
    endOfBackward = outer;
    for (const g of pending.values()) g.dispose();
  }
}
