/**
 * @bramble/api: the resource model of Bramble. Types, registry keys,
 * validation, defaults, quantities, selectors, manifests and patching, all
 * pure: no I/O, no clock, no randomness.
 */
export type * from './types/index.js';
export { POD_FIELD_PATHS } from './types/index.js';

export {
  ApiError,
  isApiError,
  httpStatusOf,
  formatPath,
  formatValue,
  type ApiErrorCode,
  type FieldError,
  type FieldErrorType,
  type PathSegment,
} from './errors.js';

export {
  KINDS,
  resolveKind,
  mustResolveKind,
  kindInfo,
  registryKey,
  registryPrefix,
  parseRegistryKey,
  type KindInfo,
} from './registry.js';

export { validate, validateOrThrow, validateStatus, validateStatusOrThrow, validateUpdate, validateUpdateOrThrow, invalidError } from './validate/index.js';
export { NODE_PORT_MIN, NODE_PORT_MAX } from './validate/service.js';
export { MAX_CONFIG_DATA_BYTES } from './validate/config.js';
export { MAX_ANNOTATIONS_BYTES } from './validate/meta.js';
export {
  isDns1123Label,
  isDns1123Subdomain,
  isDns1035Label,
  isQualifiedName,
  isLabelValue,
  isIanaSvcName,
  isConfigKey,
  isEnvVarName,
  isIPv4,
} from './validate/formats.js';

export {
  applyDefaults,
  DEFAULT_NAMESPACE,
  DEFAULT_NODE_CAPACITY,
  DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
  DEFAULT_REVISION_HISTORY_LIMIT,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  DEFAULT_MAX_SURGE,
  DEFAULT_MAX_UNAVAILABLE,
  DEFAULT_FILE_MODE,
} from './defaults.js';

export {
  parseQuantity,
  parseCpu,
  parseMemory,
  parseQuantityValue,
  formatCpu,
  formatMemory,
  quantityErrors,
  QuantityError,
  type ParsedQuantity,
  type QuantityFormat,
} from './quantity.js';

export { parsePercent, scaledValue } from './intstr.js';

export {
  Selector,
  FieldSelector,
  parseLabelSelector,
  parseFieldSelector,
  labelSelectorFromObject,
  labelSelectorErrors,
  matchesLabelSelector,
  formatLabelSelector,
  selectorFromSet,
  supportedFieldSelectors,
  fieldValue,
  type Requirement,
  type FieldRequirement,
  type FieldOperator,
  type Labels,
} from './selectors.js';

export {
  mergePatch,
  createMergePatch,
  applyManifest,
  lastAppliedOf,
  podTemplateHash,
  templateWithoutHash,
  templatesEqualIgnoringHash,
  LAST_APPLIED_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  SAFE_ALPHABET,
} from './patch.js';

export {
  parseManifests,
  parseManifestDocuments,
  ManifestError,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_OBJECTS,
  type ManifestDocument,
  type ManifestProblem,
  type ParseManifestOptions,
} from './manifest.js';

export { controllerRef, ownerReferenceTo, randomSuffix, nameFromGenerateName, isBeingDeleted, GENERATED_SUFFIX_LENGTH } from './meta.js';

export { deepClone, deepEqual, deepFreeze, canonicalJson, stripNulls, isObject, type JsonValue } from './json.js';
export { yamlLibrary } from './yaml-library.js';
