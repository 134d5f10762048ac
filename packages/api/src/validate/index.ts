export { validate, validateOrThrow, invalidError } from './validate.js';
export { validateUpdate, validateUpdateOrThrow, diffPaths } from './update.js';
