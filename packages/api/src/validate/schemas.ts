/**
 * The shape of every kind: which members exist, their types, enumerations
 * and formats. What is not listed here is rejected as an unsupported field.
 * `obj<T>` makes the compiler check that each schema lists exactly the
 * members of its TypeScript type.
 */
import type {
  ConfigMap,
  ConfigMapKeySelector,
  ConfigMapVolumeSource,
  Container,
  ContainerPort,
  ContainerPortStatus,
  ContainerState,
  ContainerStateRunning,
  ContainerStateTerminated,
  ContainerStateWaiting,
  ContainerStatus,
  DaemonSet,
  DaemonSetSpec,
  DaemonSetStatus,
  DaemonSetUpdateStrategy,
  Deployment,
  DeploymentSpec,
  DeploymentStatus,
  DeploymentStrategy,
  EmptyDirVolumeSource,
  EndpointAddress,
  EndpointPort,
  Endpoints,
  EndpointSubset,
  EnvFromSource,
  EnvVar,
  EnvVarSource,
  Event,
  EventSource,
  ExecAction,
  HTTPGetAction,
  HTTPHeader,
  KeyToPath,
  KindName,
  LabelSelector,
  LabelSelectorRequirement,
  Lease,
  LeaseSpec,
  Namespace,
  Node,
  NodeAddress,
  NodeCondition,
  NodeDaemonEndpoints,
  NodeSpec,
  NodeStatus,
  NodeSystemInfo,
  ObjectFieldSelector,
  ObjectMeta,
  ObjectReference,
  OwnerReference,
  Pod,
  PodCondition,
  PodSpec,
  PodStatus,
  PodTemplateMeta,
  PodTemplateSpec,
  Probe,
  ReplicaSet,
  ReplicaSetSpec,
  ReplicaSetStatus,
  ResourceRequirements,
  RollingUpdateDaemonSet,
  RollingUpdateDeployment,
  Secret,
  SecretKeySelector,
  SecretVolumeSource,
  Service,
  ServicePort,
  ServiceSpec,
  ServiceStatus,
  Taint,
  TCPSocketAction,
  Toleration,
  Volume,
  VolumeMount,
  WorkloadCondition,
} from '../types/index.js';
import { arr, bool, int, intOrString, map, obj, oneOf, quantity, str, time, type ObjectSchema } from './schema.js';

// ---- metadata -------------------------------------------------------------

export const labelMap = map(str({ format: 'labelValue' }), { keyFormat: 'qualifiedName' });
const annotationMap = map(str(), { keyFormat: 'qualifiedName' });

const ownerReference = obj<OwnerReference>(
  { apiVersion: str(), kind: str(), name: str(), uid: str(), controller: bool, blockOwnerDeletion: bool },
  { required: ['apiVersion', 'kind', 'name', 'uid'] },
);

export const objectMeta = obj<ObjectMeta>(
  {
    name: str(),
    generateName: str(),
    namespace: str(),
    uid: str(),
    resourceVersion: str(),
    generation: int({ min: 0 }),
    labels: labelMap,
    annotations: annotationMap,
    ownerReferences: arr(ownerReference, { mergeKey: 'uid' }),
    finalizers: arr(str({ format: 'qualifiedName' }), { set: true }),
    creationTimestamp: time,
    deletionTimestamp: time,
    deletionGracePeriodSeconds: int({ min: 0 }),
  },
  { k8sOnly: ['managedFields', 'selfLink', 'clusterName'] },
);

const podTemplateMeta = obj<PodTemplateMeta>({ name: str(), labels: labelMap, annotations: annotationMap, creationTimestamp: time });

const labelSelectorRequirement = obj<LabelSelectorRequirement>(
  {
    key: str({ format: 'qualifiedName' }),
    operator: oneOf('In', 'NotIn', 'Exists', 'DoesNotExist'),
    values: arr(str({ format: 'labelValue' })),
  },
  { required: ['key', 'operator'] },
);

export const labelSelector = obj<LabelSelector>({ matchLabels: labelMap, matchExpressions: arr(labelSelectorRequirement) });

const objectReference = obj<ObjectReference>({
  apiVersion: str(),
  kind: str(),
  namespace: str(),
  name: str(),
  uid: str(),
  resourceVersion: str(),
  fieldPath: str(),
});

// ---- pods -----------------------------------------------------------------

const resourceList = map(quantity, { keys: ['cpu', 'memory'] });
const resources = obj<ResourceRequirements>({ requests: resourceList, limits: resourceList }, { k8sOnly: ['claims'] });

const containerPort = obj<ContainerPort>(
  { name: str({ format: 'ianaSvcName' }), containerPort: int({ min: 1, max: 65535 }), protocol: oneOf('TCP') },
  { required: ['containerPort'], k8sOnly: ['hostPort', 'hostIP'] },
);

const keySelector = { name: str({ format: 'dns1123Subdomain' }), key: str({ format: 'configKey' }), optional: bool };
const envVarSource = obj<EnvVarSource>(
  {
    configMapKeyRef: obj<ConfigMapKeySelector>(keySelector, { required: ['name', 'key'] }),
    secretKeyRef: obj<SecretKeySelector>(keySelector, { required: ['name', 'key'] }),
    fieldRef: obj<ObjectFieldSelector>({ apiVersion: oneOf('v1'), fieldPath: str() }, { required: ['fieldPath'] }),
  },
  { k8sOnly: ['resourceFieldRef'] },
);
const envVar = obj<EnvVar>({ name: str({ format: 'envVarName' }), value: str(), valueFrom: envVarSource }, { required: ['name'] });
const localRef = obj<{ name: string; optional?: boolean }>({ name: str({ format: 'dns1123Subdomain' }), optional: bool }, { required: ['name'] });
const envFromSource = obj<EnvFromSource>({ prefix: str(), configMapRef: localRef, secretRef: localRef });

const probe = obj<Probe>(
  {
    exec: obj<ExecAction>({ command: arr(str()) }, { required: ['command'] }),
    httpGet: obj<HTTPGetAction>(
      {
        path: str(),
        port: intOrString('port'),
        scheme: oneOf('HTTP', 'HTTPS'),
        httpHeaders: arr(obj<HTTPHeader>({ name: str(), value: str() }, { required: ['name', 'value'] })),
      },
      { required: ['port'], k8sOnly: ['host'] },
    ),
    tcpSocket: obj<TCPSocketAction>({ port: intOrString('port') }, { required: ['port'], k8sOnly: ['host'] }),
    initialDelaySeconds: int({ min: 0 }),
    periodSeconds: int({ min: 1 }),
    timeoutSeconds: int({ min: 1 }),
    successThreshold: int({ min: 1 }),
    failureThreshold: int({ min: 1 }),
  },
  { k8sOnly: ['grpc', 'terminationGracePeriodSeconds'] },
);

const volumeMount = obj<VolumeMount>(
  { name: str(), mountPath: str(), readOnly: bool, subPath: str({ format: 'relativePath' }) },
  { required: ['name', 'mountPath'], k8sOnly: ['mountPropagation', 'subPathExpr', 'recursiveReadOnly'] },
);

export const container = obj<Container>(
  {
    name: str({ format: 'dns1123Label' }),
    image: str(),
    imagePullPolicy: oneOf('Always', 'IfNotPresent', 'Never'),
    command: arr(str()),
    args: arr(str()),
    workingDir: str(),
    env: arr(envVar, { mergeKey: 'name' }),
    envFrom: arr(envFromSource),
    ports: arr(containerPort, { mergeKey: 'containerPort' }),
    resources,
    livenessProbe: probe,
    readinessProbe: probe,
    volumeMounts: arr(volumeMount, { mergeKey: 'mountPath' }),
  },
  {
    required: ['name'],
    k8sOnly: [
      'securityContext',
      'startupProbe',
      'lifecycle',
      'stdin',
      'stdinOnce',
      'tty',
      'volumeDevices',
      'terminationMessagePath',
      'terminationMessagePolicy',
      'resizePolicy',
      'restartPolicy',
    ],
  },
);

const fileMode = int({ min: 0, max: 0o777, rangeMessage: 'must be a number between 0 and 0777 (octal), both inclusive' });
const keyToPath = obj<KeyToPath>(
  { key: str({ format: 'configKey' }), path: str({ format: 'relativePath' }), mode: fileMode },
  { required: ['key', 'path'] },
);

const volume = obj<Volume>(
  {
    name: str({ format: 'dns1123Label' }),
    configMap: obj<ConfigMapVolumeSource>(
      { name: str({ format: 'dns1123Subdomain' }), items: arr(keyToPath), defaultMode: fileMode, optional: bool },
      { required: ['name'] },
    ),
    secret: obj<SecretVolumeSource>(
      { secretName: str({ format: 'dns1123Subdomain' }), items: arr(keyToPath), defaultMode: fileMode, optional: bool },
      { required: ['secretName'] },
    ),
    emptyDir: obj<EmptyDirVolumeSource>({ sizeLimit: quantity }, { k8sOnly: ['medium'] }),
  },
  {
    required: ['name'],
    k8sOnly: ['hostPath', 'persistentVolumeClaim', 'nfs', 'projected', 'downwardAPI', 'csi', 'ephemeral', 'iscsi', 'local'],
  },
);

const taintEffect = oneOf('NoSchedule', 'PreferNoSchedule', 'NoExecute');

const toleration = obj<Toleration>({
  key: str(),
  operator: oneOf('Exists', 'Equal'),
  value: str({ format: 'labelValue' }),
  effect: taintEffect,
  tolerationSeconds: int(),
});

export const podSpec = obj<PodSpec>(
  {
    containers: arr(container, { mergeKey: 'name' }),
    restartPolicy: oneOf('Always', 'OnFailure', 'Never'),
    terminationGracePeriodSeconds: int({ min: 0 }),
    nodeName: str({ format: 'dns1123Subdomain' }),
    nodeSelector: labelMap,
    tolerations: arr(toleration),
    volumes: arr(volume, { mergeKey: 'name' }),
  },
  {
    required: ['containers'],
    k8sOnly: [
      'initContainers',
      'ephemeralContainers',
      'affinity',
      'hostNetwork',
      'hostPID',
      'hostIPC',
      'securityContext',
      'serviceAccountName',
      'serviceAccount',
      'automountServiceAccountToken',
      'imagePullSecrets',
      'dnsPolicy',
      'dnsConfig',
      'hostname',
      'subdomain',
      'hostAliases',
      'priorityClassName',
      'priority',
      'schedulerName',
      'activeDeadlineSeconds',
      'topologySpreadConstraints',
      'runtimeClassName',
      'enableServiceLinks',
      'shareProcessNamespace',
      'readinessGates',
      'preemptionPolicy',
      'overhead',
      'os',
    ],
  },
);

const conditionStatus = oneOf('True', 'False', 'Unknown');

const containerState = obj<ContainerState>({
  waiting: obj<ContainerStateWaiting>({ reason: str(), message: str() }),
  running: obj<ContainerStateRunning>({ startedAt: time }),
  terminated: obj<ContainerStateTerminated>(
    { exitCode: int(), signal: int(), reason: str(), message: str(), startedAt: time, finishedAt: time },
    { required: ['exitCode'] },
  ),
});

const podStatus = obj<PodStatus>({
  phase: oneOf('Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'),
  conditions: arr(
    obj<PodCondition>(
      { type: str(), status: conditionStatus, lastProbeTime: time, lastTransitionTime: time, reason: str(), message: str() },
      { required: ['type', 'status'] },
    ),
    { mergeKey: 'type' },
  ),
  message: str(),
  reason: str(),
  hostIP: str({ format: 'ipv4' }),
  podIP: str({ format: 'ipv4' }),
  startTime: time,
  containerStatuses: arr(
    obj<ContainerStatus>(
      {
        name: str(),
        ready: bool,
        started: bool,
        restartCount: int({ min: 0 }),
        state: containerState,
        lastState: containerState,
        image: str(),
        containerID: str(),
        ports: arr(
          obj<ContainerPortStatus>(
            { name: str(), containerPort: int({ min: 1, max: 65535 }), hostPort: int({ min: 1, max: 65535 }), protocol: oneOf('TCP') },
            { required: ['containerPort', 'hostPort'] },
          ),
        ),
      },
      { required: ['name'] },
    ),
    { mergeKey: 'name' },
  ),
});

export const podTemplate = obj<PodTemplateSpec>({ metadata: podTemplateMeta, spec: podSpec }, { required: ['spec'] });

const pod = obj<Pod>({ apiVersion: str(), kind: str(), metadata: objectMeta, spec: podSpec, status: podStatus }, { required: ['metadata', 'spec'] });

// ---- workloads ------------------------------------------------------------

const workloadCondition = obj<WorkloadCondition>(
  { type: str(), status: conditionStatus, lastUpdateTime: time, lastTransitionTime: time, reason: str(), message: str() },
  { required: ['type', 'status'] },
);
const workloadConditions = arr(workloadCondition, { mergeKey: 'type' });
const count = int({ min: 0 });

const replicaSet = obj<ReplicaSet>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    spec: obj<ReplicaSetSpec>(
      { replicas: count, minReadySeconds: count, selector: labelSelector, template: podTemplate },
      { required: ['selector', 'template'] },
    ),
    status: obj<ReplicaSetStatus>({
      replicas: count,
      fullyLabeledReplicas: count,
      readyReplicas: count,
      availableReplicas: count,
      observedGeneration: count,
      conditions: workloadConditions,
    }),
  },
  { required: ['metadata', 'spec'] },
);

const deployment = obj<Deployment>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    spec: obj<DeploymentSpec>(
      {
        replicas: count,
        selector: labelSelector,
        template: podTemplate,
        strategy: obj<DeploymentStrategy>({
          type: oneOf('RollingUpdate', 'Recreate'),
          rollingUpdate: obj<RollingUpdateDeployment>({ maxSurge: intOrString('percent'), maxUnavailable: intOrString('percent') }),
        }),
        minReadySeconds: count,
        revisionHistoryLimit: count,
        progressDeadlineSeconds: int({ min: 1 }),
        paused: bool,
      },
      { required: ['selector', 'template'] },
    ),
    status: obj<DeploymentStatus>({
      observedGeneration: count,
      replicas: count,
      updatedReplicas: count,
      readyReplicas: count,
      availableReplicas: count,
      unavailableReplicas: count,
      conditions: workloadConditions,
      collisionCount: count,
    }),
  },
  { required: ['metadata', 'spec'] },
);

const daemonSet = obj<DaemonSet>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    spec: obj<DaemonSetSpec>(
      {
        selector: labelSelector,
        template: podTemplate,
        updateStrategy: obj<DaemonSetUpdateStrategy>({
          type: oneOf('RollingUpdate', 'OnDelete'),
          rollingUpdate: obj<RollingUpdateDaemonSet>({ maxUnavailable: intOrString('percent'), maxSurge: intOrString('percent') }),
        }),
        minReadySeconds: count,
        revisionHistoryLimit: count,
      },
      { required: ['selector', 'template'] },
    ),
    status: obj<DaemonSetStatus>({
      currentNumberScheduled: count,
      numberMisscheduled: count,
      desiredNumberScheduled: count,
      numberReady: count,
      observedGeneration: count,
      updatedNumberScheduled: count,
      numberAvailable: count,
      numberUnavailable: count,
      collisionCount: count,
      conditions: workloadConditions,
    }),
  },
  { required: ['metadata', 'spec'] },
);

// ---- services -------------------------------------------------------------

const servicePort = obj<ServicePort>(
  {
    name: str({ format: 'dns1123Label' }),
    protocol: oneOf('TCP'),
    port: int({ min: 1, max: 65535 }),
    targetPort: intOrString('port'),
    nodePort: int(),
  },
  { required: ['port'], k8sOnly: ['appProtocol'] },
);

const service = obj<Service>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    spec: obj<ServiceSpec>(
      {
        type: oneOf('ClusterIP', 'NodePort'),
        selector: labelMap,
        ports: arr(servicePort, { mergeKey: 'port' }),
        clusterIP: str(),
        sessionAffinity: oneOf('None'),
      },
      {
        required: ['ports'],
        k8sOnly: [
          'clusterIPs',
          'externalIPs',
          'externalName',
          'externalTrafficPolicy',
          'internalTrafficPolicy',
          'ipFamilies',
          'ipFamilyPolicy',
          'loadBalancerIP',
          'loadBalancerSourceRanges',
          'loadBalancerClass',
          'allocateLoadBalancerNodePorts',
          'healthCheckNodePort',
          'publishNotReadyAddresses',
          'sessionAffinityConfig',
          'trafficDistribution',
        ],
      },
    ),
    status: obj<ServiceStatus>({ loadBalancer: obj<Record<string, never>>({}) }),
  },
  { required: ['metadata', 'spec'] },
);

const endpointAddress = obj<EndpointAddress>(
  { ip: str({ format: 'ipv4' }), hostname: str({ format: 'dns1123Label' }), nodeName: str({ format: 'dns1123Subdomain' }), targetRef: objectReference },
  { required: ['ip'] },
);

const endpoints = obj<Endpoints>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    subsets: arr(
      obj<EndpointSubset>({
        addresses: arr(endpointAddress),
        notReadyAddresses: arr(endpointAddress),
        ports: arr(
          obj<EndpointPort>(
            { name: str({ format: 'dns1123Label' }), port: int({ min: 1, max: 65535 }), protocol: oneOf('TCP') },
            { required: ['port'], k8sOnly: ['appProtocol'] },
          ),
        ),
      }),
    ),
  },
  { required: ['metadata'] },
);

// ---- config ---------------------------------------------------------------

const configMap = obj<ConfigMap>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    data: map(str(), { keyFormat: 'configKey' }),
    binaryData: map(str({ format: 'base64' }), { keyFormat: 'configKey' }),
    immutable: bool,
  },
  { required: ['metadata'] },
);

const secret = obj<Secret>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    type: str(),
    data: map(str({ format: 'base64', secret: true }), { keyFormat: 'configKey' }),
    stringData: map(str({ secret: true }), { keyFormat: 'configKey' }),
    immutable: bool,
  },
  { required: ['metadata'] },
);

// ---- cluster --------------------------------------------------------------

const namespace = obj<Namespace>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    spec: obj<NonNullable<Namespace['spec']>>({ finalizers: arr(str({ format: 'qualifiedName' }), { set: true }) }),
    status: obj<NonNullable<Namespace['status']>>({ phase: oneOf('Active', 'Terminating') }, { k8sOnly: ['conditions'] }),
  },
  { required: ['metadata'] },
);

const nodeResourceList = map(quantity, { keys: ['cpu', 'memory', 'pods'] });

const node = obj<Node>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    spec: obj<NodeSpec>(
      {
        unschedulable: bool,
        taints: arr(
          obj<Taint>({ key: str({ format: 'qualifiedName' }), value: str({ format: 'labelValue' }), effect: taintEffect, timeAdded: time }, { required: ['key', 'effect'] }),
          { mergeKey: 'key' },
        ),
      },
      { k8sOnly: ['podCIDR', 'podCIDRs', 'providerID', 'configSource', 'externalID'] },
    ),
    status: obj<NodeStatus>(
      {
        capacity: nodeResourceList,
        allocatable: nodeResourceList,
        conditions: arr(
          obj<NodeCondition>(
            { type: str(), status: conditionStatus, lastHeartbeatTime: time, lastTransitionTime: time, reason: str(), message: str() },
            { required: ['type', 'status'] },
          ),
          { mergeKey: 'type' },
        ),
        addresses: arr(obj<NodeAddress>({ type: oneOf('InternalIP', 'ExternalIP', 'Hostname'), address: str() }, { required: ['type', 'address'] }), {
          mergeKey: 'type',
        }),
        nodeInfo: obj<NodeSystemInfo>({
          machineID: str(),
          bootID: str(),
          kernelVersion: str(),
          osImage: str(),
          containerRuntimeVersion: str(),
          kubeletVersion: str(),
          operatingSystem: str(),
          architecture: str(),
        }),
        daemonEndpoints: obj<NodeDaemonEndpoints>({
          kubeletEndpoint: obj<NonNullable<NodeDaemonEndpoints['kubeletEndpoint']>>({ Port: int({ min: 1, max: 65535 }) }, { required: ['Port'] }),
        }),
      },
      { k8sOnly: ['images', 'volumesInUse', 'volumesAttached', 'phase', 'config', 'runtimeHandlers', 'features'] },
    ),
  },
  { required: ['metadata'] },
);

const event = obj<Event>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    involvedObject: objectReference,
    reason: str(),
    message: str(),
    source: obj<EventSource>({ component: str(), host: str() }),
    firstTimestamp: time,
    lastTimestamp: time,
    count: int({ min: 0 }),
    type: oneOf('Normal', 'Warning'),
    eventTime: time,
    action: str(),
    reportingComponent: str(),
    reportingInstance: str(),
  },
  { required: ['metadata', 'involvedObject'], k8sOnly: ['series', 'related'] },
);

const lease = obj<Lease>(
  {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta,
    spec: obj<LeaseSpec>({
      holderIdentity: str(),
      leaseDurationSeconds: int({ min: 1 }),
      acquireTime: time,
      renewTime: time,
      leaseTransitions: int({ min: 0 }),
    }, { k8sOnly: ['preferredHolder', 'strategy'] }),
  },
  { required: ['metadata'] },
);

/** The schema of each kind, from the top (`apiVersion`, `kind`, `metadata`, ...). */
export const kindSchemas: Readonly<Record<KindName, ObjectSchema>> = {
  Namespace: namespace,
  Node: node,
  Pod: pod,
  ReplicaSet: replicaSet,
  Deployment: deployment,
  DaemonSet: daemonSet,
  Service: service,
  Endpoints: endpoints,
  ConfigMap: configMap,
  Secret: secret,
  Event: event,
  Lease: lease,
};
