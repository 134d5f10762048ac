/** Service and Endpoints rules: port names and uniqueness, NodePort range, clusterIP. */
import type { FieldError } from '../errors.js';
import type { Endpoints, Service } from '../types/index.js';
import { FieldPath, duplicate, forbidden, invalid, required } from './field.js';
import { isIPv4 } from './formats.js';

export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

export function validateService(svc: Service): FieldError[] {
  const errors: FieldError[] = [];
  const spec = svc.spec;
  if (!spec) return errors;
  const specPath = FieldPath.root('spec');
  const type = spec.type ?? 'ClusterIP';
  const ports = spec.ports ?? [];
  if (spec.ports !== undefined && ports.length === 0) errors.push(required(specPath.child('ports')));
  const names = new Set<string>();
  const portKeys = new Set<string>();
  const nodePorts = new Set<number>();
  ports.forEach((p, i) => {
    const pPath = specPath.child('ports').index(i);
    if (ports.length > 1 && (p.name === undefined || p.name === '')) errors.push(required(pPath.child('name')));
    if (p.name !== undefined && p.name !== '') {
      if (names.has(p.name)) errors.push(duplicate(pPath.child('name'), p.name));
      names.add(p.name);
    }
    if (p.port !== undefined) {
      const key = `${p.port}/${p.protocol ?? 'TCP'}`;
      if (portKeys.has(key)) errors.push(duplicate(pPath, { port: p.port, protocol: p.protocol ?? 'TCP' }));
      portKeys.add(key);
    }
    if (p.nodePort !== undefined) {
      const npPath = pPath.child('nodePort');
      if (type !== 'NodePort') {
        errors.push(forbidden(npPath, `may not be used when \`type\` is '${type}'`));
      } else if (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) {
        errors.push(
          invalid(npPath, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`),
        );
      } else if (nodePorts.has(p.nodePort)) {
        errors.push(duplicate(npPath, p.nodePort));
      }
      nodePorts.add(p.nodePort);
    }
  });
  const ip = spec.clusterIP;
  if (ip !== undefined && ip !== '' && ip !== 'None' && isIPv4(ip).length > 0) {
    errors.push(invalid(specPath.child('clusterIP'), ip, "must be a valid IPv4 address, (e.g. 10.9.8.7), or 'None'"));
  }
  if (ip === 'None' && type === 'NodePort') {
    errors.push(invalid(specPath.child('clusterIP'), ip, "may not be set to 'None' for NodePort services"));
  }
  return errors;
}

export function validateEndpoints(ep: Endpoints): FieldError[] {
  const errors: FieldError[] = [];
  (ep.subsets ?? []).forEach((subset, i) => {
    const sPath = FieldPath.root('subsets').index(i);
    const ports = subset.ports ?? [];
    const names = new Set<string>();
    ports.forEach((p, j) => {
      const pPath = sPath.child('ports').index(j);
      if (ports.length > 1 && (p.name === undefined || p.name === '')) errors.push(required(pPath.child('name')));
      if (p.name !== undefined && p.name !== '') {
        if (names.has(p.name)) errors.push(duplicate(pPath.child('name'), p.name));
        names.add(p.name);
      }
    });
  });
  return errors;
}
