export { SGD, type SGDOptions, type ParamGroup, type SGDState } from './sgd.js';
export { Adam, AdamW, type AdamOptions, type AdamParamGroup } from './adam.js';
export { ReduceLROnPlateau, type PlateauOptions, type PlateauState } from './plateau.js';
export type { Optimizer, OptimizerGroup, OptimizerState } from './optimizer.js';
export { LRScheduler, type Schedule, type SchedulerState } from './schedules.js';
export * as lrSchedule from './schedules.js';
