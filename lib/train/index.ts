export { train, evaluate, errorPoints, plannedSteps, type TrainOptions, type TrainSummary, type EvaluationResult } from './trainer.js';
export { defaultTopK, type TopKErrors } from './evaluate.js';
export { TestTracker, type BestState } from './early_stop.js';
export { saveCheckpoint, loadCheckpoint, readCheckpointState, checkpointPaths, optimizerKind, CHECKPOINT_FORMAT, type CheckpointState, type OptimizerKind } from './checkpoint.js';
export { MetricsLog, type MetricsRecord, type TrainRecord, type TestRecord } from './metrics_log.js';
export { errorChartSvg, writeErrorChart, type ErrorPoint } from './plot.js';
export { topKErrors, Average } from './metrics.js';
export { EpochProgress } from './progress.js';
