export { LevelStorage, type LevelStorageOptions, type PersistInput, type StorageStats } from './level-storage.js';
export { StorageError, StorageCorruptionError } from './errors.js';
export { FORMAT_VERSION } from './keys.js';
