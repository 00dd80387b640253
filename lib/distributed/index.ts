// rn.distributed: the process group (init, backends, rank, size) and its collectives.
export { init, backends, finalize, group, isInitialized, rank, worldSize, type DistributedBackends, type InitOptions, type ProcessGroup } from './group.js';
export {
  allReduce, allReduceAsync, allReduceInto, allReduceNumbers, broadcast, broadcastAsync, broadcastBytes, barrier, Work, type ReduceOp,
} from './collectives.js';
