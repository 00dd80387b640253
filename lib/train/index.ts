export { train, evaluate, errorPoints, type TrainOptions, type TrainSummary, type EvaluationResult } from './trainer.js';
export { saveCheckpoint, loadCheckpoint, readCheckpointState, checkpointPaths, CHECKPOINT_FORMAT, type CheckpointState } from './checkpoint.js';
export { MetricsLog, type MetricsRecord, type TrainRecord, type TestRecord } from './metrics_log.js';
export { errorChartSvg, writeErrorChart, type ErrorPoint } from './plot.js';
export { topKErrors, Average } from './metrics.js';
export { EpochProgress } from './progress.js';
export { combineEvaluations, isMainRank, type DistributedTraining } from './distributed.js';
