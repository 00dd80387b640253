export { SGD, type SGDOptions, type ParamGroup } from './sgd.js';
