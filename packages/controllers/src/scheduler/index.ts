export * from './resources.js';
export * from './filters.js';
export * from './scoring.js';
export * from './schedule.js';
export * from './scheduler.js';
