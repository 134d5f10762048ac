import { describe, expect, it } from 'vitest';
import { ApiError, applyDefaults, parseManifests, validate, validateOrThrow, validateStatus, validateStatusOrThrow, type FieldError } from '../src/index.js';
import { deployment, edit, fixture, messages, pod, service } from './helpers.js';

describe('valid manifests validate cleanly, as written and defaulted', () => {
  const files = [
    'hello.yaml',
    'kinds.yaml',
    'list.json',
    'kubectl-generated.yaml',
    'todo/redis-master.yaml',
    'todo/redis-replicas.yaml',
    'todo/web.yaml',
    'todo/config.yaml',
    'todo/secret.yaml',
  ];
  for (const file of files) {
    it(file, () => {
      const objects = parseManifests(fixture(file), file, { validate: false });
      expect(objects.length).toBeGreaterThan(0);
      for (const obj of objects) {
        expect(messages(obj), `${obj.kind} as written`).toEqual([]);
        expect(messages(applyDefaults(obj)), `${obj.kind} defaulted`).toEqual([]);
      }
    });
  }

  it('the hand-built bases are valid', () => {
    expect(messages(deployment())).toEqual([]);
    expect(messages(pod())).toEqual([]);
    expect(messages(service())).toEqual([]);
  });
});

describe('top level', () => {
  it.each<[string, unknown, string[]]>([
    ['not an object', 'hello', ['<root>: Invalid value: "hello": must be an object with apiVersion, kind and metadata']],
    ['no kind', { apiVersion: 'v1' }, ['kind: Required value']],
    [
      'unknown kind',
      { apiVersion: 'apps/v1', kind: 'StatefulSet' },
      [
        'kind: Unsupported value: "StatefulSet": supported values: "Namespace", "Node", "Pod", "ReplicaSet", "Deployment", "DaemonSet", "Service", "Endpoints", "ConfigMap", "Secret", "Event", "Lease"',
      ],
    ],
    ['wrong apiVersion', { ...deployment(), apiVersion: 'apps/v1beta2' }, ['apiVersion: Unsupported value: "apps/v1beta2": supported values: "apps/v1"']],
    ['no apiVersion', { ...deployment(), apiVersion: undefined }, ['apiVersion: Required value']],
    ['no metadata', { apiVersion: 'v1', kind: 'ConfigMap' }, ['metadata: Required value']],
    ['unknown top-level field', { ...service(), spek: {} }, ['spek: Unsupported field "spek": did you mean "spec"?']],
  ])('%s', (_, obj, expected) => {
    expect(messages(obj)).toEqual(expected);
  });
});

describe('metadata', () => {
  it.each<[string, (o: any) => void, string[]]>([
    ['missing name', (o) => delete o.metadata.name, ['metadata.name: Required value: name or generateName is required']],
    ['generateName instead of name', (o) => { delete o.metadata.name; o.metadata.generateName = 'web-'; }, []],
    [
      'bad name',
      (o) => (o.metadata.name = 'Web_1'),
      [
        "metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ],
    ],
    [
      'label value with a space',
      (o) => (o.metadata.labels = { app: 'my app' }),
      [
        "metadata.labels[app]: Invalid value: \"my app\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      ],
    ],
    [
      'label key with two slashes',
      (o) => (o.metadata.labels = { 'a/b/c': 'x' }),
      [
        "metadata.labels[a/b/c]: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
      ],
    ],
    ['label value too long', (o) => (o.metadata.labels = { app: 'a'.repeat(64) }), [`metadata.labels[app]: Invalid value: "${'a'.repeat(64)}": must be no more than 63 characters`]],
    ['label value not a string', (o) => (o.metadata.labels = { enabled: true }), ['metadata.labels[enabled]: Invalid value: true: must be a string (in YAML, quote values such as 8080, yes, on or true to keep them strings)']],
    ['bad namespace', (o) => (o.metadata.namespace = 'My.NS'), [expect.stringMatching(/^metadata\.namespace: Invalid value: "My\.NS": a lowercase RFC 1123 label must consist/)] as any],
    ['unknown metadata field', (o) => (o.metadata.managedFields = []), ['metadata.managedFields: Unsupported field "managedFields": Bramble does not support this Kubernetes field']],
    ['negative generation', (o) => (o.metadata.generation = -1), ['metadata.generation: Invalid value: -1: must be greater than or equal to 0']],
    ['bad timestamp', (o) => (o.metadata.creationTimestamp = 'yesterday'), ['metadata.creationTimestamp: Invalid value: "yesterday": must be an RFC 3339 timestamp (e.g. 2024-05-01T10:00:00Z)']],
    [
      'two controllers',
      (o) =>
        (o.metadata.ownerReferences = [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: '1', controller: true },
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'b', uid: '2', controller: true },
        ]),
      [expect.stringMatching(/^metadata\.ownerReferences: Invalid value: \[.*\]: only one reference can have controller set to true; found true in references for ReplicaSet\/a and ReplicaSet\/b$/)] as any,
    ],
    ['owner reference without uid', (o) => (o.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: 'n' }]), ['metadata.ownerReferences[0].uid: Required value']],
  ])('%s', (_, change, expected) => {
    expect(messages(edit(pod(), change))).toEqual(expected);
  });

  it('cluster-scoped kinds refuse a namespace; Namespace names are DNS labels', () => {
    expect(messages({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-1', namespace: 'default' } })).toEqual([
      'metadata.namespace: Forbidden: not allowed on this type',
    ]);
    expect(messages({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } })[0]).toMatch(
      /^metadata\.name: Invalid value: "a\.b": a lowercase RFC 1123 label must consist/,
    );
  });

  it('Service names are DNS-1035 labels (must start with a letter)', () => {
    expect(messages(edit(service(), (s) => (s.metadata.name = '1web')))[0]).toMatch(
      /^metadata\.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character/,
    );
  });
});

describe('Deployment', () => {
  it.each<[string, (d: any) => void, string[]]>([
    ['negative replicas', (d) => (d.spec.replicas = -1), ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']],
    ['replicas as a string', (d) => (d.spec.replicas = '3'), ['spec.replicas: Invalid value: "3": must be an integer']],
    ['fractional replicas', (d) => (d.spec.replicas = 1.5), ['spec.replicas: Invalid value: 1.5: must be an integer']],
    ['unknown spec field', (d) => (d.spec.foo = 1), ['spec.foo: Unsupported field "foo"']],
    ['typo in spec', (d) => (d.spec.replica = 1), ['spec.replica: Unsupported field "replica": did you mean "replicas"?']],
    [
      'unknown field deep in a container',
      (d) => (d.spec.template.spec.containers[0].ports[0].hostPort = 80),
      ['spec.template.spec.containers[0].ports[0].hostPort: Unsupported field "hostPort": Bramble does not support this Kubernetes field'],
    ],
    ['unknown field in a probe', (d) => (d.spec.template.spec.containers[0].readinessProbe = { tcpSocket: { port: 8080 }, periodSecond: 5 }), [
      'spec.template.spec.containers[0].readinessProbe.periodSecond: Unsupported field "periodSecond": did you mean "periodSeconds"?',
    ]],
    ['unknown field in the selector', (d) => (d.spec.selector.matchLabel = {}), ['spec.selector.matchLabel: Unsupported field "matchLabel": did you mean "matchLabels"?']],
    ['missing selector', (d) => delete d.spec.selector, ['spec.selector: Required value']],
    ['missing template', (d) => delete d.spec.template, ['spec.template: Required value']],
    ['empty selector', (d) => (d.spec.selector = {}), ['spec.selector: Invalid value: {}: empty selector is invalid for deployment']],
    [
      'selector does not match the template labels',
      (d) => (d.spec.template.metadata.labels = { app: 'api' }),
      ['spec.template.metadata.labels: Invalid value: {"app":"api"}: `selector` does not match template `labels`'],
    ],
    [
      'matchExpressions In without values',
      (d) => (d.spec.selector.matchExpressions = [{ key: 'tier', operator: 'In' }]),
      ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"],
    ],
    [
      'matchExpressions bad operator',
      (d) => (d.spec.selector.matchExpressions = [{ key: 'tier', operator: 'Equals', values: ['a'] }]),
      ['spec.selector.matchExpressions[0].operator: Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"'],
    ],
    ['no containers', (d) => (d.spec.template.spec.containers = []), ['spec.template.spec.containers: Required value']],
    ['containers missing', (d) => delete d.spec.template.spec.containers, ['spec.template.spec.containers: Required value']],
    ['container without a name', (d) => delete d.spec.template.spec.containers[0].name, ['spec.template.spec.containers[0].name: Required value']],
    [
      'container without a command',
      (d) => delete d.spec.template.spec.containers[0].command,
      ['spec.template.spec.containers[0].command: Required value: Bramble runs each container as a process: give the program to run (image is informational)'],
    ],
    [
      'duplicate container names',
      (d) => d.spec.template.spec.containers.push({ name: 'web', command: ['x'] }),
      ['spec.template.spec.containers[1].name: Duplicate value: "web"'],
    ],
    [
      'restartPolicy Never',
      (d) => (d.spec.template.spec.restartPolicy = 'Never'),
      ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    ],
    [
      'Recreate with rollingUpdate',
      (d) => (d.spec.strategy = { type: 'Recreate', rollingUpdate: { maxSurge: 1 } }),
      ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
    ],
    [
      'maxSurge and maxUnavailable both 0',
      (d) => (d.spec.strategy = { rollingUpdate: { maxSurge: '0%', maxUnavailable: 0 } }),
      ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0'],
    ],
    ['maxUnavailable over 100%', (d) => (d.spec.strategy = { rollingUpdate: { maxUnavailable: '150%' } }), [
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
    ]],
    ['maxSurge not a percentage', (d) => (d.spec.strategy = { rollingUpdate: { maxSurge: 'half' } }), [
      "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"half\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%')",
    ]],
    ['unknown strategy', (d) => (d.spec.strategy = { type: 'BlueGreen' }), [
      'spec.strategy.type: Unsupported value: "BlueGreen": supported values: "RollingUpdate", "Recreate"',
    ]],
    ['progress deadline not above minReadySeconds', (d) => { d.spec.minReadySeconds = 30; d.spec.progressDeadlineSeconds = 30; }, [
      'spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds',
    ]],
    ['template metadata with an unknown field', (d) => (d.spec.template.metadata.namespace = 'x'), [
      'spec.template.metadata.namespace: Unsupported field "namespace"',
    ]],
  ])('%s', (_, change, expected) => {
    expect(messages(edit(deployment(), change))).toEqual(expected);
  });

  it('reports every problem at once, one per mistake', () => {
    const d = edit(deployment(), (x) => {
      x.spec.replicas = -2;
      x.spec.template.spec.containers[0].name = 42; // wrong type: no extra "Required value" for it
      x.spec.template.spec.containers[0].resources = { requests: { cpu: 'lots' } };
    });
    expect(messages(d)).toEqual([
      'spec.replicas: Invalid value: -2: must be greater than or equal to 0',
      'spec.template.spec.containers[0].name: Invalid value: 42: must be a string (in YAML, quote values such as 8080, yes, on or true to keep them strings)',
      'spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: "lots": expected a number with an optional suffix: m, k, M, G, T, P, E (powers of 1000), Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), or an exponent such as e3',
    ]);
  });
});

describe('ReplicaSet and DaemonSet templates', () => {
  const asKind = (kind: string) =>
    edit(deployment(), (d) => {
      d.kind = kind;
      delete d.spec.replicas;
      d.spec.template.spec.restartPolicy = 'OnFailure';
    });
  it('restartPolicy must be Always for every workload kind', () => {
    for (const kind of ['ReplicaSet', 'DaemonSet']) {
      expect(messages(asKind(kind))).toEqual(['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"']);
    }
  });
  it('DaemonSets have no replicas', () => {
    expect(messages(edit(deployment(), (d) => (d.kind = 'DaemonSet')))).toEqual(['spec.replicas: Unsupported field "replicas"']);
  });
  it('pods controlled by a ReplicaSet must restart Always', () => {
    const p = edit(pod(), (x) => {
      x.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u', controller: true }];
      x.spec.restartPolicy = 'Never';
    });
    expect(messages(p)).toEqual(['spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']);
    expect(messages(edit(p, (x) => delete x.metadata.ownerReferences))).toEqual([]);
  });
});

describe('Pod', () => {
  const c0 = 'spec.containers[0]';
  it.each<[string, (p: any) => void, string[]]>([
    ['port 0', (p) => (p.spec.containers[0].ports[0].containerPort = 0), [`${c0}.ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive`]],
    ['port 70000', (p) => (p.spec.containers[0].ports[0].containerPort = 70000), [`${c0}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`]],
    ['UDP', (p) => (p.spec.containers[0].ports[0].protocol = 'UDP'), [`${c0}.ports[0].protocol: Unsupported value: "UDP": supported values: "TCP"`]],
    ['port name too long', (p) => (p.spec.containers[0].ports[0].name = 'a-very-long-port-name'), [`${c0}.ports[0].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters`]],
    ['port name without a letter', (p) => (p.spec.containers[0].ports[0].name = '8080'), [`${c0}.ports[0].name: Invalid value: "8080": must contain at least one letter (a-z)`]],
    ['duplicate port names across containers', (p) => p.spec.containers.push({ name: 'side', command: ['x'], ports: [{ name: 'http', containerPort: 9090 }] }), [
      'spec.containers[1].ports[0].name: Duplicate value: "http"',
    ]],
    ['container name not a DNS label', (p) => (p.spec.containers[0].name = 'web.1'), [
      `${c0}.name: Invalid value: "web.1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    ]],
    ['bad restartPolicy', (p) => (p.spec.restartPolicy = 'Sometimes'), ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']],
    ['cpu quantity', (p) => (p.spec.containers[0].resources = { limits: { cpu: '1 core' } }), [
      `${c0}.resources.limits[cpu]: Invalid value: "1 core": expected a number with an optional suffix: m, k, M, G, T, P, E (powers of 1000), Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), or an exponent such as e3`,
    ]],
    ['negative memory', (p) => (p.spec.containers[0].resources = { requests: { memory: '-1Gi' } }), [`${c0}.resources.requests[memory]: Invalid value: "-1Gi": must be greater than or equal to 0`]],
    ['unknown resource', (p) => (p.spec.containers[0].resources = { limits: { 'nvidia.com/gpu': 1 } }), [
      `${c0}.resources.limits[nvidia.com/gpu]: Unsupported value: "nvidia.com/gpu": supported values: "cpu", "memory"`,
    ]],
    ['request above limit', (p) => (p.spec.containers[0].resources = { requests: { memory: '1Gi' }, limits: { memory: '512Mi' } }), [
      `${c0}.resources.requests[memory]: Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi`,
    ]],
    ['probe without handler', (p) => (p.spec.containers[0].livenessProbe = { periodSeconds: 5 }), [
      `${c0}.livenessProbe: Required value: must specify a handler type (exec, httpGet or tcpSocket)`,
    ]],
    ['probe with two handlers', (p) => (p.spec.containers[0].readinessProbe = { exec: { command: ['true'] }, tcpSocket: { port: 8080 } }), [
      `${c0}.readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type`,
    ]],
    ['probe on an undeclared port name', (p) => (p.spec.containers[0].readinessProbe = { httpGet: { port: 'admin' } }), [
      `${c0}.readinessProbe.httpGet.port: Invalid value: "admin": must be the name of one of this container's ports`,
    ]],
    ['probe port out of range', (p) => (p.spec.containers[0].readinessProbe = { tcpSocket: { port: 0 } }), [
      `${c0}.readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive`,
    ]],
    ['liveness successThreshold', (p) => (p.spec.containers[0].livenessProbe = { tcpSocket: { port: 'http' }, successThreshold: 2 }), [
      `${c0}.livenessProbe.successThreshold: Invalid value: 2: must be 1`,
    ]],
    ['periodSeconds 0', (p) => (p.spec.containers[0].livenessProbe = { tcpSocket: { port: 'http' }, periodSeconds: 0 }), [
      `${c0}.livenessProbe.periodSeconds: Invalid value: 0: must be greater than or equal to 1`,
    ]],
    ['grpc probes are not supported', (p) => (p.spec.containers[0].livenessProbe = { grpc: { port: 8080 } }), [
      `${c0}.livenessProbe.grpc: Unsupported field "grpc": Bramble does not support this Kubernetes field`,
      `${c0}.livenessProbe: Required value: must specify a handler type (exec, httpGet or tcpSocket)`,
    ]],
    ['env value and valueFrom', (p) => (p.spec.containers[0].env = [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }]), [
      `${c0}.env[0].valueFrom: Invalid value: "": may not be specified when \`value\` is not empty`,
    ]],
    ['env valueFrom with two sources', (p) => (p.spec.containers[0].env = [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'status.podIP' }, configMapKeyRef: { name: 'c', key: 'k' } } }]), [
      `${c0}.env[0].valueFrom: Invalid value: "": may not have more than one field specified at a time`,
    ]],
    ['env fieldRef unsupported path', (p) => (p.spec.containers[0].env = [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } }]), [
      `${c0}.env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.serviceAccountName": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "status.hostIP", "status.podIP"`,
    ]],
    ['env name with a space', (p) => (p.spec.containers[0].env = [{ name: 'MY VAR', value: '1' }]), [
      `${c0}.env[0].name: Invalid value: "MY VAR": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
    ]],
    ['env value as a number', (p) => (p.spec.containers[0].env = [{ name: 'PORT', value: 8080 }]), [
      `${c0}.env[0].value: Invalid value: 8080: must be a string (in YAML, quote values such as 8080, yes, on or true to keep them strings)`,
    ]],
    ['secretKeyRef without key', (p) => (p.spec.containers[0].env = [{ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }]), [
      `${c0}.env[0].valueFrom.secretKeyRef.key: Required value`,
    ]],
    ['envFrom with both sources', (p) => (p.spec.containers[0].envFrom = [{ configMapRef: { name: 'a' }, secretRef: { name: 'b' } }]), [
      `${c0}.envFrom[0]: Invalid value: "": may not have more than one field specified at a time`,
    ]],
    ['volume mount of an unknown volume', (p) => (p.spec.containers[0].volumeMounts = [{ name: 'data', mountPath: '/data' }]), [
      `${c0}.volumeMounts[0].name: Not found: "data": no volume of this name in spec.volumes`,
    ]],
    ['volume with two sources', (p) => (p.spec.volumes = [{ name: 'v', emptyDir: {}, configMap: { name: 'c' } }]), [
      'spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type',
    ]],
    ['volume without source', (p) => (p.spec.volumes = [{ name: 'v' }]), ['spec.volumes[0]: Required value: must specify a volume type (configMap, secret or emptyDir)']],
    ['hostPath volumes are not supported', (p) => (p.spec.volumes = [{ name: 'v', hostPath: { path: '/' } }]), [
      'spec.volumes[0].hostPath: Unsupported field "hostPath": Bramble does not support this Kubernetes field',
      'spec.volumes[0]: Required value: must specify a volume type (configMap, secret or emptyDir)',
    ]],
    ['duplicate volumes', (p) => (p.spec.volumes = [{ name: 'v', emptyDir: {} }, { name: 'v', emptyDir: {} }]), ['spec.volumes[1].name: Duplicate value: "v"']],
    ['item path escaping the volume', (p) => (p.spec.volumes = [{ name: 'v', configMap: { name: 'c', items: [{ key: 'k', path: '../etc/passwd' }] } }]), [
      "spec.volumes[0].configMap.items[0].path: Invalid value: \"../etc/passwd\": must not contain '..'",
    ]],
    ['defaultMode 0777 is the maximum', (p) => (p.spec.volumes = [{ name: 'v', secret: { secretName: 's', defaultMode: 0o1000 } }]), [
      'spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
    ]],
    ['toleration Exists with a value', (p) => (p.spec.tolerations = [{ key: 'k', operator: 'Exists', value: 'v' }]), [
      "spec.tolerations[0].value: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
    ]],
    ['toleration Equal without key', (p) => (p.spec.tolerations = [{ value: 'v' }]), [
      'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
    ]],
    ['tolerationSeconds without NoExecute', (p) => (p.spec.tolerations = [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }]), [
      "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
    ]],
    ['nodeSelector value', (p) => (p.spec.nodeSelector = { disk: 'fast ssd' }), [expect.stringMatching(/^spec\.nodeSelector\[disk\]: Invalid value: "fast ssd": a valid label must be/)] as any],
    ['affinity is not supported', (p) => (p.spec.affinity = {}), ['spec.affinity: Unsupported field "affinity": Bramble does not support this Kubernetes field']],
    ['status phase', (p) => (p.status = { phase: 'Done' }), ['status.phase: Unsupported value: "Done": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"']],
    ['status podIP', (p) => (p.status = { podIP: '10.0.0.256' }), ['status.podIP: Invalid value: "10.0.0.256": must be a valid IPv4 address, (e.g. 10.9.8.7)']],
  ])('%s', (_, change, expected) => {
    expect(messages(edit(pod(), change))).toEqual(expected);
  });
});

describe('Service', () => {
  it.each<[string, (s: any) => void, string[]]>([
    ['NodePort below the range', (s) => { s.spec.type = 'NodePort'; s.spec.ports[0].nodePort = 8080; }, [
      'spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ]],
    ['NodePort in range', (s) => { s.spec.type = 'NodePort'; s.spec.ports[0].nodePort = 30080; }, []],
    ['nodePort on a ClusterIP service', (s) => (s.spec.ports[0].nodePort = 30080), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]],
    ['LoadBalancer', (s) => (s.spec.type = 'LoadBalancer'), ['spec.type: Unsupported value: "LoadBalancer": supported values: "ClusterIP", "NodePort"']],
    ['no ports', (s) => (s.spec.ports = []), ['spec.ports: Required value']],
    ['port 0', (s) => (s.spec.ports[0].port = 0), ['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']],
    ['targetPort name too long', (s) => (s.spec.ports[0].targetPort = 'a-very-long-port-name'), ['spec.ports[0].targetPort: Invalid value: "a-very-long-port-name": must be no more than 15 characters']],
    ['two ports need names', (s) => s.spec.ports.push({ name: 'metrics', port: 9100 }), ['spec.ports[0].name: Required value']],
    ['duplicate port', (s) => s.spec.ports.push({ port: 80 }), [
      'spec.ports[0].name: Required value',
      'spec.ports[1].name: Required value',
      'spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}',
    ]],
    ['duplicate port names', (s) => { s.spec.ports = [{ name: 'a', port: 80 }, { name: 'a', port: 81 }]; }, ['spec.ports[1].name: Duplicate value: "a"']],
    ['duplicate nodePorts', (s) => { s.spec.type = 'NodePort'; s.spec.ports = [{ name: 'a', port: 80, nodePort: 30001 }, { name: 'b', port: 81, nodePort: 30001 }]; }, [
      'spec.ports[1].nodePort: Duplicate value: 30001',
    ]],
    ['bad clusterIP', (s) => (s.spec.clusterIP = 'ten'), ["spec.clusterIP: Invalid value: \"ten\": must be a valid IPv4 address, (e.g. 10.9.8.7), or 'None'"]],
    ['headless', (s) => (s.spec.clusterIP = 'None'), []],
    ['externalTrafficPolicy', (s) => (s.spec.externalTrafficPolicy = 'Local'), [
      'spec.externalTrafficPolicy: Unsupported field "externalTrafficPolicy": Bramble does not support this Kubernetes field',
    ]],
    ['selector value', (s) => (s.spec.selector = { app: 'a b' }), [expect.stringMatching(/^spec\.selector\[app\]: Invalid value: "a b": a valid label/)] as any],
  ])('%s', (_, change, expected) => {
    expect(messages(edit(service(), change))).toEqual(expected);
  });
});

describe('ConfigMap and Secret', () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { 'app.json': '{}' } };
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { password: 'aHVudGVyMg==' } };

  it.each<[string, unknown, string[]]>([
    ['bad key', edit(cm, (c) => (c.data = { 'a b': 'x' })), [
      "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    ]],
    ['key ..', edit(cm, (c) => (c.data = { '..': 'x' })), ["data[..]: Invalid value: \"..\": must not be '..'"]],
    ['value not a string', edit(cm, (c) => (c.data = { port: 8080 })), ['data[port]: Invalid value: 8080: must be a string (in YAML, quote values such as 8080, yes, on or true to keep them strings)']],
    ['key in data and binaryData', edit(cm, (c) => (c.binaryData = { 'app.json': 'e30=' })), ['data[app.json]: Invalid value: "app.json": duplicate of key present in binaryData']],
    ['binaryData not base64', edit(cm, (c) => (c.binaryData = { bin: 'not base64!' })), ['binaryData[bin]: Invalid value: "not base64!": must be base64-encoded (illegal base64 data at input byte 3)']],
    ['too big', edit(cm, (c) => (c.data = { big: 'x'.repeat(1024 * 1024) })), ['data: Too long: must have at most 1048576 bytes']],
    ['secret data not base64 (value never shown)', edit(secret, (s) => (s.data = { password: 'hunter2' })), [
      'data[password]: Invalid value: "<redacted>": must be base64-encoded (illegal base64 data: length or padding is wrong)',
    ]],
    ['secret stringData is plain text', edit(secret, (s) => (s.stringData = { token: 'plain text!' })), []],
    ['secret stringData not a string (value never shown)', edit(secret, (s) => (s.stringData = { pin: 1234 })), [
      'stringData[pin]: Invalid value: "<redacted>": must be a string (in YAML, quote values such as 8080, yes, on or true to keep them strings)',
    ]],
    ['secret unknown field', edit(secret, (s) => (s.spec = {})), ['spec: Unsupported field "spec"']],
  ])('%s', (_, obj, expected) => {
    expect(messages(obj)).toEqual(expected);
  });
});

describe('Node, Namespace, Endpoints, Event, Lease', () => {
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-1' } };
  it.each<[string, unknown, string[]]>([
    ['taint effect', edit(node, (n) => (n.spec = { taints: [{ key: 'k', effect: 'NoRun' }] })), [
      'spec.taints[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ]],
    ['duplicate taints', edit(node, (n) => (n.spec = { taints: [{ key: 'k', effect: 'NoSchedule' }, { key: 'k', effect: 'NoSchedule', value: 'x' }] })), [
      'spec.taints[1]: Duplicate value: {"key":"k","effect":"NoSchedule"}',
    ]],
    ['capacity quantity', edit(node, (n) => (n.status = { capacity: { memory: '4 GB' } })), [
      expect.stringMatching(/^status\.capacity\[memory\]: Invalid value: "4 GB": expected a number/),
    ] as any],
    ['capacity of an unknown resource', edit(node, (n) => (n.status = { capacity: { gpu: '1' } })), [
      'status.capacity[gpu]: Unsupported value: "gpu": supported values: "cpu", "memory", "pods"',
    ]],
    ['condition status', edit(node, (n) => (n.status = { conditions: [{ type: 'Ready', status: 'Yes' }] })), [
      'status.conditions[0].status: Unsupported value: "Yes": supported values: "True", "False", "Unknown"',
    ]],
    ['namespace phase', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' }, status: { phase: 'Gone' } }, [
      'status.phase: Unsupported value: "Gone": supported values: "Active", "Terminating"',
    ]],
    ['endpoint ip', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: 'pi-1' }], ports: [{ port: 80 }] }] }, [
      'subsets[0].addresses[0].ip: Invalid value: "pi-1": must be a valid IPv4 address, (e.g. 10.9.8.7)',
    ]],
    ['event without involvedObject', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' }, reason: 'X' }, ['involvedObject: Required value']],
    ['event type', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: 'p' }, type: 'Error' }, [
      'type: Unsupported value: "Error": supported values: "Normal", "Warning"',
    ]],
    ['event about another namespace', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: 'a' }, involvedObject: { kind: 'Pod', name: 'p', namespace: 'b' } }, [
      'involvedObject.namespace: Invalid value: "b": does not match event.namespace',
    ]],
    ['lease duration', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: { leaseDurationSeconds: 0 } }, [
      'spec.leaseDurationSeconds: Invalid value: 0: must be greater than or equal to 1',
    ]],
    ['lease apiVersion', { apiVersion: 'v1', kind: 'Lease', metadata: { name: 'l' } }, ['apiVersion: Unsupported value: "v1": supported values: "coordination.k8s.io/v1"']],
  ])('%s', (_, obj, expected) => {
    expect(messages(obj)).toEqual(expected);
  });
});

describe('validateOrThrow', () => {
  it('returns a valid object', () => {
    const d = deployment();
    expect(validateOrThrow(d)).toBe(d);
  });

  it('throws ApiError Invalid with every field error and a kubectl-like message', () => {
    const bad = edit(deployment(), (d) => {
      d.spec.replicas = -1;
      d.spec.foo = true;
    });
    let caught: unknown;
    try {
      validateOrThrow(bad);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ApiError);
    const e = caught as ApiError;
    expect(e.code).toBe('Invalid');
    expect(e.kind).toBe('Deployment');
    expect(e.objectName).toBe('web');
    expect(e.fieldErrors.map((f: FieldError) => [f.type, f.field])).toEqual([
      ['Invalid', 'spec.replicas'],
      ['UnknownField', 'spec.foo'],
    ]);
    expect(e.message).toBe(
      'Deployment "web" is invalid:\n* spec.replicas: Invalid value: -1: must be greater than or equal to 0\n* spec.foo: Unsupported field "foo"',
    );
    expect(() => validateOrThrow(edit(deployment(), (d) => (d.spec.replicas = -1)))).toThrow(
      'Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    );
  });

  it('field errors carry the path as segments, for locating them in a manifest', () => {
    const [e] = validate(edit(deployment(), (d) => (d.spec.template.spec.containers[0].ports[0].containerPort = 0)));
    expect(e.path).toEqual(['spec', 'template', 'spec', 'containers', 0, 'ports', 0, 'containerPort']);
    expect(e.value).toBe(0);
    expect(e.detail).toBe('must be between 1 and 65535, inclusive');
  });
});

describe('validateStatus (status updates: only the status is new)', () => {
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-1' } };
  const statusMessages = (obj: unknown) => validateStatus(obj as never).map((e) => e.message);
  it.each<[string, unknown]>([
    ['pod phase', edit(pod(), (p) => (p.status = { phase: 'Started' }))],
    ['unknown pod status field', edit(pod(), (p) => (p.status = { phase: 'Running', ready: true }))],
    ['container state', edit(pod(), (p) => (p.status = { containerStatuses: [{ name: 'web', ready: 'yes', restartCount: 0 }] }))],
    ['pod IP', edit(pod(), (p) => (p.status = { phase: 'Running', podIP: '10.0.0' }))],
    ['negative node capacity (a rule beyond shape)', edit(node, (n) => (n.status = { capacity: { cpu: '-1' } }))],
    ['node condition status', edit(node, (n) => (n.status = { conditions: [{ type: 'Ready', status: 'Yes' }] }))],
    ['replicas', edit(deployment(), (d) => (d.status = { replicas: -2 }))],
  ])('finds the same errors as validate: %s', (_, obj) => {
    const expected = messages(obj);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.every((m) => m.startsWith('status'))).toBe(true);
    expect(statusMessages(obj)).toEqual(expected);
  });

  it('accepts a valid status, and no status at all', () => {
    const running = edit(pod(), (p) => (p.status = { phase: 'Running', podIP: '127.0.0.11', conditions: [{ type: 'Ready', status: 'True' }] }));
    expect(statusMessages(running)).toEqual([]);
    expect(statusMessages(pod())).toEqual([]);
    expect(validateStatusOrThrow(running)).toBe(running);
  });

  it('does not look at the rest of the object: it is the stored version, validated when written', () => {
    const badSpecGoodStatus = edit(pod(), (p) => {
      p.spec.containers[0].ports[0].containerPort = 0;
      p.status = { phase: 'Running' };
    });
    expect(messages(badSpecGoodStatus)).toEqual([expect.stringMatching(/^spec\.containers\[0\]\.ports\[0\]\.containerPort/)]);
    expect(statusMessages(badSpecGoodStatus)).toEqual([]);
  });

  it('throws ApiError Invalid naming the object and the status field', () => {
    const bad = edit(pod(), (p) => (p.status = { phase: 'Started' }));
    expect(() => validateStatusOrThrow(bad)).toThrow(/^Pod "web-1" is invalid: status\.phase: Unsupported value: "Started"/);
  });

  it('a kind without a status is validated whole', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 1 } };
    expect(statusMessages(cm)).toEqual(messages(cm));
    expect(statusMessages(cm).length).toBe(1);
  });
});

describe('unknown field names with dots and slashes', () => {
  it('names the whole member', () => {
    expect(messages(edit(service(), (s) => (s.spec['app.kubernetes.io/name'] = 'x')))).toEqual([
      'spec.app.kubernetes.io/name: Unsupported field "app.kubernetes.io/name"',
    ]);
  });
});
