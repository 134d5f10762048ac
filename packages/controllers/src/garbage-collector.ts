/**
 * The garbage collector: deletes objects whose owners are gone, by
 * ownerReferences, with Kubernetes' three propagation policies.
 *
 * - Background: an object none of whose owners exists any more is deleted
 *   (an object with some owner still alive only loses the dangling
 *   references). Before deleting, the owner's absence is confirmed with a
 *   fresh read by name and uid, so an owner created after this pass listed
 *   its kind is never mistaken for a missing one.
 * - Foreground: an owner being deleted with the `foregroundDeletion`
 *   finalizer has its dependents deleted (foreground again if they have
 *   dependents of their own); the finalizer is removed, letting the owner
 *   go, once no dependent with `blockOwnerDeletion` is left.
 * - Orphan: an owner being deleted with the `orphan` finalizer has the
 *   references to it removed from its dependents, then the finalizer.
 */
import { deepClone, kindInfo, resolveKind } from '@bramble/api';
import type { KindName, OwnerReference, Resource } from '@bramble/api';
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER, type ControllerClient, type DeletionPropagation } from './client.js';
import { isBeingDeleted } from './util/pods.js';
import { ControllerReport } from './util/report.js';

export const GARBAGE_COLLECTOR_COMPONENT = 'garbage-collector';

/** The kinds whose objects can own or be owned (Events are left out: they are many and own nothing). */
export const GC_KINDS: readonly KindName[] = [
  'Namespace',
  'Node',
  'Pod',
  'ReplicaSet',
  'Deployment',
  'DaemonSet',
  'Service',
  'Endpoints',
  'ConfigMap',
  'Secret',
  'Lease',
];

export interface GarbageCollectorOptions {
  kinds?: readonly KindName[];
}

function describe(obj: Resource): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata.name ?? ''}`;
}

function hasFinalizer(obj: Resource, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

/** The owner is being deleted in the foreground: it waits for its dependents. */
function waitsForDependents(obj: Resource): boolean {
  return isBeingDeleted(obj) && hasFinalizer(obj, FOREGROUND_FINALIZER);
}

export class GarbageCollector {
  private readonly kinds: readonly KindName[];

  constructor(
    private readonly client: ControllerClient,
    options: GarbageCollectorOptions = {},
  ) {
    this.kinds = options.kinds ?? GC_KINDS;
  }

  async runOnce(_nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('garbage-collector');
    const all: Resource[] = [];
    for (const kind of this.kinds) all.push(...((await this.client.list(kind)) as Resource[]));
    const byUid = new Map<string, Resource>();
    for (const obj of all) if (obj.metadata.uid) byUid.set(obj.metadata.uid, obj);
    const dependents = new Map<string, Resource[]>();
    for (const obj of all) {
      for (const ref of obj.metadata.ownerReferences ?? []) {
        let list = dependents.get(ref.uid);
        if (!list) dependents.set(ref.uid, (list = []));
        list.push(obj);
      }
    }

    // Owners being deleted with a finalizer of ours.
    for (const owner of all) {
      if (!isBeingDeleted(owner)) continue;
      const deps = dependents.get(owner.metadata.uid ?? '') ?? [];
      if (hasFinalizer(owner, ORPHAN_FINALIZER)) {
        await report.guard(describe(owner), () => this.orphanDependents(owner, deps, report));
      } else if (hasFinalizer(owner, FOREGROUND_FINALIZER)) {
        await report.guard(describe(owner), () => this.deleteDependentsFirst(owner, deps, byUid, dependents, report));
      }
    }

    // Dependents whose owners are gone.
    for (const obj of all) {
      if ((obj.metadata.ownerReferences ?? []).length === 0 || isBeingDeleted(obj)) continue;
      await report.guard(describe(obj), () => this.collect(obj, byUid, dependents, report));
    }
    return report;
  }

  private async orphanDependents(owner: Resource, deps: readonly Resource[], report: ControllerReport): Promise<void> {
    for (const dep of deps) {
      const copy = deepClone(dep);
      copy.metadata.ownerReferences = (copy.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
      await this.client.update(copy);
      report.action(`orphan ${describe(dep)} (owner ${describe(owner)} deleted with propagation Orphan)`);
    }
    await this.removeFinalizer(owner, ORPHAN_FINALIZER, report);
  }

  private async deleteDependentsFirst(
    owner: Resource,
    deps: readonly Resource[],
    byUid: ReadonlyMap<string, Resource>,
    dependents: ReadonlyMap<string, Resource[]>,
    report: ControllerReport,
  ): Promise<void> {
    const blocking = deps.filter((d) => (d.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.blockOwnerDeletion === true));
    if (blocking.length === 0) {
      await this.removeFinalizer(owner, FOREGROUND_FINALIZER, report);
      return;
    }
    for (const dep of deps) {
      if (isBeingDeleted(dep)) continue;
      const others = (dep.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
      const solid = others.filter((r) => {
        const o = byUid.get(r.uid);
        return o !== undefined && !waitsForDependents(o);
      });
      if (solid.length > 0) {
        // Another owner keeps it alive: it only stops blocking this one.
        const copy = deepClone(dep);
        copy.metadata.ownerReferences = others;
        await this.client.update(copy);
        report.action(`remove owner ${describe(owner)} from ${describe(dep)} (other owners remain)`);
        continue;
      }
      const propagation: DeletionPropagation = (dependents.get(dep.metadata.uid ?? '') ?? []).length > 0 ? 'Foreground' : 'Background';
      await this.deleteObject(dep, propagation, `owner ${describe(owner)} is being deleted in the foreground`, report);
    }
  }

  private async collect(
    obj: Resource,
    byUid: ReadonlyMap<string, Resource>,
    dependents: ReadonlyMap<string, Resource[]>,
    report: ControllerReport,
  ): Promise<void> {
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of obj.metadata.ownerReferences ?? []) {
      const owner = byUid.get(ref.uid);
      if (owner === undefined) {
        const absent = await this.ownerAbsent(obj, ref);
        if (absent === undefined) solid.push(ref); // cannot tell: keep
        else if (absent) dangling.push(ref);
        else solid.push(ref);
      } else if (waitsForDependents(owner)) {
        waiting.push(ref);
      } else {
        solid.push(ref);
      }
    }
    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return;
      const drop = new Set([...dangling, ...waiting].map((r) => r.uid));
      const copy = deepClone(obj);
      copy.metadata.ownerReferences = (copy.metadata.ownerReferences ?? []).filter((r) => !drop.has(r.uid));
      await this.client.update(copy);
      report.action(`remove dangling owner references from ${describe(obj)}`);
      return;
    }
    if (waiting.length > 0) return; // handled by its owner's foreground deletion
    const hasDependents = (dependents.get(obj.metadata.uid ?? '') ?? []).length > 0;
    const propagation: DeletionPropagation = hasFinalizer(obj, ORPHAN_FINALIZER)
      ? 'Orphan'
      : hasFinalizer(obj, FOREGROUND_FINALIZER) && hasDependents
        ? 'Foreground'
        : 'Background';
    const owners = dangling.map((r) => `${r.kind} ${r.name} (uid ${r.uid})`).join(', ');
    await this.deleteObject(obj, propagation, `owner ${owners} no longer exists`, report);
  }

  /**
   * A fresh read of the owner by kind, namespace and name: true if it is gone
   * (or is another object with the same name); undefined for a kind this
   * cluster does not know (then nothing is deleted).
   */
  private async ownerAbsent(dependent: Resource, ref: OwnerReference): Promise<boolean | undefined> {
    const info = resolveKind(ref.kind);
    if (!info || info.kind !== ref.kind) return undefined;
    const namespace = kindInfo(info.kind).namespaced ? dependent.metadata.namespace : undefined;
    if (info.namespaced && !kindInfo(dependent.kind).namespaced) return true; // a cluster-scoped object cannot have a namespaced owner
    const owner = await this.client.get(info.kind, namespace, ref.name);
    return owner === undefined || owner.metadata.uid !== ref.uid;
  }

  private async deleteObject(obj: Resource, propagation: DeletionPropagation, why: string, report: ControllerReport): Promise<void> {
    await this.client.delete(obj.kind, obj.metadata.namespace, obj.metadata.name ?? '', {
      propagation,
      preconditions: { uid: obj.metadata.uid },
    });
    report.action(`delete ${describe(obj)} (${propagation.toLowerCase()}): ${why}`);
  }

  private async removeFinalizer(owner: Resource, finalizer: string, report: ControllerReport): Promise<void> {
    const copy = deepClone(owner);
    copy.metadata.finalizers = (copy.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (copy.metadata.finalizers.length === 0) delete copy.metadata.finalizers;
    await this.client.update(copy);
    report.action(`remove finalizer ${finalizer} from ${describe(owner)}`);
  }
}
