/** ReplicaSet, Deployment and DaemonSet rules: selector vs template, restart policy, rollout strategy. */
import type { FieldError } from '../errors.js';
import { parsePercent } from '../intstr.js';
import { labelSelectorErrors, labelSelectorFromObject } from '../selectors.js';
import type { DaemonSet, Deployment, IntOrString, LabelSelector, PodTemplateSpec, ReplicaSet } from '../types/index.js';
import { FieldPath, forbidden, invalid, notSupported } from './field.js';
import { validatePodSpec } from './pod.js';

const spec = FieldPath.root('spec');

/** Selector non-empty and valid, template labels matched by it, template restartPolicy Always. */
function validateSelectorAndTemplate(
  selector: LabelSelector | undefined,
  template: PodTemplateSpec | undefined,
  kind: string,
  errors: FieldError[],
): void {
  const selectorPath = spec.child('selector');
  let selectorOk = false;
  if (selector) {
    const isEmpty = Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
    const problems = labelSelectorErrors(selector, selectorPath);
    errors.push(...problems);
    if (isEmpty) errors.push(invalid(selectorPath, selector, `empty selector is invalid for ${kind.toLowerCase()}`));
    // An expression that failed the structural pass is left empty in the sanitized copy: don't match with it.
    const complete = (selector.matchExpressions ?? []).every((e) => e.key !== undefined && e.operator !== undefined);
    selectorOk = !isEmpty && problems.length === 0 && complete;
  }
  if (!template) return;
  const templatePath = spec.child('template');
  const labels = template.metadata?.labels ?? {};
  if (selector && selectorOk && !labelSelectorFromObject(selector).matches(labels)) {
    errors.push(invalid(templatePath.child('metadata', 'labels'), labels, '`selector` does not match template `labels`'));
  }
  if (template.spec) {
    errors.push(...validatePodSpec(template.spec, templatePath.child('spec')));
    const policy = template.spec.restartPolicy;
    if (policy !== undefined && policy !== 'Always') {
      errors.push(notSupported(templatePath.child('spec', 'restartPolicy'), policy, ['Always']));
    }
  }
}

function isZero(value: IntOrString | undefined): boolean {
  return value === 0 || (typeof value === 'string' && parsePercent(value) === 0);
}

function validateMaxUnavailable(value: IntOrString | undefined, path: FieldPath, errors: FieldError[]): void {
  if (typeof value === 'string' && (parsePercent(value) ?? 0) > 100) errors.push(invalid(path, value, 'must not be greater than 100%'));
}

export function validateReplicaSet(rs: ReplicaSet): FieldError[] {
  const errors: FieldError[] = [];
  if (rs.spec) validateSelectorAndTemplate(rs.spec.selector, rs.spec.template, 'ReplicaSet', errors);
  return errors;
}

export function validateDeployment(d: Deployment): FieldError[] {
  const errors: FieldError[] = [];
  if (!d.spec) return errors;
  validateSelectorAndTemplate(d.spec.selector, d.spec.template, 'Deployment', errors);
  const strategy = d.spec.strategy;
  const strategyPath = spec.child('strategy');
  if (strategy?.type === 'Recreate' && strategy.rollingUpdate) {
    errors.push(forbidden(strategyPath.child('rollingUpdate'), "may not be specified when strategy `type` is 'Recreate'"));
  }
  if (strategy?.rollingUpdate && strategy.type !== 'Recreate') {
    const ruPath = strategyPath.child('rollingUpdate');
    const { maxSurge, maxUnavailable } = strategy.rollingUpdate;
    validateMaxUnavailable(maxUnavailable, ruPath.child('maxUnavailable'), errors);
    // Unset values default to 25%, so only two explicit zeros are a dead end.
    if (isZero(maxSurge) && isZero(maxUnavailable)) {
      errors.push(invalid(ruPath.child('maxUnavailable'), maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
    }
  }
  const minReady = d.spec.minReadySeconds ?? 0;
  const deadline = d.spec.progressDeadlineSeconds;
  if (deadline !== undefined && deadline <= minReady) {
    errors.push(invalid(spec.child('progressDeadlineSeconds'), deadline, 'must be greater than minReadySeconds'));
  }
  return errors;
}

export function validateDaemonSet(ds: DaemonSet): FieldError[] {
  const errors: FieldError[] = [];
  if (!ds.spec) return errors;
  validateSelectorAndTemplate(ds.spec.selector, ds.spec.template, 'DaemonSet', errors);
  const strategy = ds.spec.updateStrategy;
  const strategyPath = spec.child('updateStrategy');
  if (strategy?.type === 'OnDelete' && strategy.rollingUpdate) {
    errors.push(forbidden(strategyPath.child('rollingUpdate'), "may not be specified when strategy `type` is 'OnDelete'"));
  }
  if (strategy?.rollingUpdate && strategy.type !== 'OnDelete') {
    const ruPath = strategyPath.child('rollingUpdate');
    // Defaults: maxUnavailable 1, maxSurge 0.
    const maxUnavailable = strategy.rollingUpdate.maxUnavailable ?? 1;
    const maxSurge = strategy.rollingUpdate.maxSurge ?? 0;
    validateMaxUnavailable(maxUnavailable, ruPath.child('maxUnavailable'), errors);
    if (isZero(maxSurge) && isZero(maxUnavailable)) {
      errors.push(invalid(ruPath.child('maxUnavailable'), maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
    }
  }
  return errors;
}
