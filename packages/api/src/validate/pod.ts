/** Pod spec rules beyond shape: containers, ports, env, resources, probes, volumes, tolerations. */
import type { FieldError } from '../errors.js';
import { parseQuantity, parseCpu, parseMemory } from '../quantity.js';
import {
  POD_FIELD_PATHS,
  type Container,
  type EnvFromSource,
  type EnvVar,
  type PodSpec,
  type Probe,
  type ResourceRequirements,
  type Toleration,
  type Volume,
} from '../types/index.js';
import { FieldPath, duplicate, forbidden, invalid, notFound, notSupported, required } from './field.js';
import { isEnvVarName, isQualifiedName } from './formats.js';

export function validatePodSpec(spec: PodSpec, path: FieldPath): FieldError[] {
  const errors: FieldError[] = [];
  const containersPath = path.child('containers');
  if (spec.containers !== undefined && spec.containers.length === 0) errors.push(required(containersPath));
  const volumeNames = validateVolumes(spec.volumes ?? [], path.child('volumes'), errors);
  const containerNames = new Set<string>();
  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  (spec.containers ?? []).forEach((c, i) => {
    const cPath = containersPath.index(i);
    if (c.name !== undefined && c.name !== '') {
      if (containerNames.has(c.name)) errors.push(duplicate(cPath.child('name'), c.name));
      containerNames.add(c.name);
    }
    (c.ports ?? []).forEach((p, j) => {
      const pPath = cPath.child('ports').index(j);
      if (p.name !== undefined) {
        if (portNames.has(p.name)) errors.push(duplicate(pPath.child('name'), p.name));
        portNames.add(p.name);
      }
      if (p.containerPort !== undefined) {
        if (portNumbers.has(p.containerPort)) errors.push(duplicate(pPath.child('containerPort'), p.containerPort));
        portNumbers.add(p.containerPort);
      }
    });
    validateContainer(c, cPath, volumeNames, errors);
  });
  (spec.tolerations ?? []).forEach((t, i) => validateToleration(t, path.child('tolerations').index(i), errors));
  return errors;
}

function validateContainer(c: Container, path: FieldPath, volumeNames: ReadonlySet<string>, errors: FieldError[]): void {
  if (c.command === undefined || c.command.length === 0) {
    errors.push(required(path.child('command'), 'Bramble runs each container as a process: give the program to run (image is informational)'));
  } else if (c.command[0] === '') {
    errors.push(invalid(path.child('command').index(0), '', 'the program to run must not be empty'));
  }
  (c.env ?? []).forEach((e, i) => validateEnvVar(e, path.child('env').index(i), errors));
  (c.envFrom ?? []).forEach((e, i) => validateEnvFrom(e, path.child('envFrom').index(i), errors));
  if (c.resources) validateResources(c.resources, path.child('resources'), errors);
  const portNames = new Set((c.ports ?? []).map((p) => p.name).filter((n): n is string => n !== undefined));
  if (c.livenessProbe) validateProbe(c.livenessProbe, path.child('livenessProbe'), portNames, true, errors);
  if (c.readinessProbe) validateProbe(c.readinessProbe, path.child('readinessProbe'), portNames, false, errors);
  const mountPaths = new Set<string>();
  (c.volumeMounts ?? []).forEach((m, i) => {
    const mPath = path.child('volumeMounts').index(i);
    if (m.name !== undefined && !volumeNames.has(m.name)) errors.push(notFound(mPath.child('name'), m.name, 'no volume of this name in spec.volumes'));
    if (m.mountPath !== undefined) {
      if (m.mountPath === '') errors.push(required(mPath.child('mountPath')));
      else if (mountPaths.has(m.mountPath)) errors.push(invalid(mPath.child('mountPath'), m.mountPath, 'must be unique'));
      mountPaths.add(m.mountPath);
    }
  });
}

function validateEnvVar(e: EnvVar, path: FieldPath, errors: FieldError[]): void {
  if (!e.valueFrom) return;
  const vfPath = path.child('valueFrom');
  if (e.value !== undefined && e.value !== '') {
    errors.push(invalid(vfPath, '', 'may not be specified when `value` is not empty'));
  }
  const sources = (['fieldRef', 'configMapKeyRef', 'secretKeyRef'] as const).filter((k) => e.valueFrom?.[k] !== undefined);
  if (sources.length === 0) errors.push(invalid(vfPath, '', 'must specify one of: `fieldRef`, `configMapKeyRef` or `secretKeyRef`'));
  if (sources.length > 1) errors.push(invalid(vfPath, '', 'may not have more than one field specified at a time'));
  const fieldPath = e.valueFrom.fieldRef?.fieldPath;
  if (fieldPath !== undefined && !(POD_FIELD_PATHS as readonly string[]).includes(fieldPath)) {
    errors.push(notSupported(vfPath.child('fieldRef', 'fieldPath'), fieldPath, POD_FIELD_PATHS));
  }
}

function validateEnvFrom(e: EnvFromSource, path: FieldPath, errors: FieldError[]): void {
  const count = (e.configMapRef ? 1 : 0) + (e.secretRef ? 1 : 0);
  if (count === 0) errors.push(invalid(path, '', 'must specify one of: `configMapRef` or `secretRef`'));
  if (count > 1) errors.push(invalid(path, '', 'may not have more than one field specified at a time'));
  if (e.prefix !== undefined && e.prefix !== '') {
    for (const p of isEnvVarName(e.prefix)) errors.push(invalid(path.child('prefix'), e.prefix, p));
  }
}

function validateResources(r: ResourceRequirements, path: FieldPath, errors: FieldError[]): void {
  for (const which of ['requests', 'limits'] as const) {
    for (const [name, q] of Object.entries(r[which] ?? {})) {
      if (q !== undefined && parseQuantity(q).negative) {
        errors.push(invalid(path.child(which).key(name), q, 'must be greater than or equal to 0'));
      }
    }
  }
  for (const name of ['cpu', 'memory'] as const) {
    const request = r.requests?.[name];
    const limit = r.limits?.[name];
    if (request === undefined || limit === undefined) continue;
    const parse = name === 'cpu' ? parseCpu : parseMemory;
    if (parse(request) > parse(limit)) {
      errors.push(invalid(path.child('requests').key(name), request, `must be less than or equal to ${name} limit of ${limit}`));
    }
  }
}

function validateProbe(probe: Probe, path: FieldPath, portNames: ReadonlySet<string>, liveness: boolean, errors: FieldError[]): void {
  const handlers = (['exec', 'httpGet', 'tcpSocket'] as const).filter((h) => probe[h] !== undefined);
  if (handlers.length === 0) errors.push(required(path, 'must specify a handler type (exec, httpGet or tcpSocket)'));
  for (const extra of handlers.slice(1)) errors.push(forbidden(path.child(extra), 'may not specify more than 1 handler type'));
  if (probe.exec && probe.exec.command !== undefined && probe.exec.command.length === 0) errors.push(required(path.child('exec', 'command')));
  for (const h of ['httpGet', 'tcpSocket'] as const) {
    const port = probe[h]?.port;
    if (typeof port === 'string' && !portNames.has(port)) {
      errors.push(invalid(path.child(h, 'port'), port, "must be the name of one of this container's ports"));
    }
  }
  if (liveness && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    errors.push(invalid(path.child('successThreshold'), probe.successThreshold, 'must be 1'));
  }
}

function validateVolumes(volumes: Volume[], path: FieldPath, errors: FieldError[]): Set<string> {
  const names = new Set<string>();
  volumes.forEach((v, i) => {
    const vPath = path.index(i);
    if (v.name !== undefined && v.name !== '') {
      if (names.has(v.name)) errors.push(duplicate(vPath.child('name'), v.name));
      names.add(v.name);
    }
    const sources = (['configMap', 'secret', 'emptyDir'] as const).filter((s) => v[s] !== undefined);
    if (sources.length === 0) errors.push(required(vPath, 'must specify a volume type (configMap, secret or emptyDir)'));
    for (const extra of sources.slice(1)) errors.push(forbidden(vPath.child(extra), 'may not specify more than 1 volume type'));
    const sizeLimit = v.emptyDir?.sizeLimit;
    if (sizeLimit !== undefined && parseQuantity(sizeLimit).negative) {
      errors.push(invalid(vPath.child('emptyDir', 'sizeLimit'), sizeLimit, 'must be greater than or equal to 0'));
    }
  });
  return names;
}

function validateToleration(t: Toleration, path: FieldPath, errors: FieldError[]): void {
  if (t.key !== undefined && t.key !== '') {
    for (const p of isQualifiedName(t.key)) errors.push(invalid(path.child('key'), t.key, p));
  }
  const operator = t.operator ?? 'Equal';
  if ((t.key === undefined || t.key === '') && operator !== 'Exists') {
    errors.push(invalid(path.child('operator'), operator, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
  }
  if (operator === 'Exists' && t.value !== undefined && t.value !== '') {
    errors.push(invalid(path.child('value'), t.value, 'value must be empty when `operator` is \'Exists\''));
  }
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    errors.push(invalid(path.child('effect'), t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
  }
}
