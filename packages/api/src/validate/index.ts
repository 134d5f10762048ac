export { validate, validateOrThrow, validateStatus, validateStatusOrThrow, invalidError } from './validate.js';
export { validateUpdate, validateUpdateOrThrow, diffPaths } from './update.js';
