/** Propagation of log statements into old versions of the code: pure, text in, text and report out. */
export { propagate, carriedNames, type PropagateInput, type PropagateResult, type Stmt, type Failure, type FailureCode } from './propagate.js';
export { propagateProject, type ProjectInput, type ProjectResult, type StatementReport, type StatementStatus } from './project.js';
export { isSourcePath, parserOptions, SOURCE_EXTENSIONS } from './source.js';
export { scopeBindings, type Binding } from './scope.js';
