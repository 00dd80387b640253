export { SGD, type SGDOptions, type ParamGroup, type SGDState } from './sgd.js';
export { LRScheduler, type Schedule, type SchedulerState } from './schedules.js';
export * as lrSchedule from './schedules.js';
