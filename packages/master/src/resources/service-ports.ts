/**
 * Service port reservations in the replicated store: one key per reserved port,
 * `/registry/serviceports/<port>` = the owning Service (namespace, name, uid). A
 * Service write carries the compares and ops of its reservations in its own txn, so a
 * port is never held by two Services, even when two masters race for it:
 *  - a newly claimed port: compare "key absent" (create revision 0), put the owner;
 *  - a released port: compare its mod revision as read, delete it;
 *  - a kept port needs nothing: the Service key's own compare serializes its writers.
 * A lost compare makes the store re-read and plan again, which then names the port
 * as already allocated (or allocates another nodePort). The rules themselves are in
 * @bramble/controllers' service-ports.ts, shared with MemoryClient.
 */
import { deepClone, type Service } from '@bramble/api';
import {
  allocateNodePorts,
  decodePortOwner,
  encodePortOwner,
  planServicePorts,
  portOwner,
  readyToRemove,
  servicePortKey,
  updatedObject,
  withAllocatedNodePorts,
  type PortOwner,
} from '@bramble/controllers';
import type { Compare, RequestOp } from '@bramble/kv';
import type { ResourceBackend } from './backend.js';
import { equalButResourceVersion } from './codec.js';

/** Compares and ops a write adds to its txn. */
export interface TxnExtra {
  compares: Compare[];
  ops: RequestOp[];
}

/** What an update of a Service makes of it (the store's Mutation). */
export type ServiceMutation = { put: Service; extra: TxnExtra } | { remove: true; extra: TxnExtra } | { keep: true };

interface Reservation {
  owner: PortOwner;
  modRevision: number;
}

export class ServicePortReservations {
  constructor(
    private readonly backend: ResourceBackend,
    private readonly random: () => number,
  ) {}

  /** A new Service (defaulted and validated): a copy with its nodePorts allocated, and the txn part claiming its ports. */
  created(svc: Service): { obj: Service; extra: TxnExtra } {
    const obj = deepClone(svc);
    allocateNodePorts(obj, (port) => this.read(port) === undefined, this.random);
    return { obj, extra: this.extra(undefined, obj) };
  }

  /**
   * An update (also patch and apply) of `stored` to `input`: allocated nodePorts kept,
   * missing ones allocated, then validated like any update; the reservations follow.
   */
  updated(stored: Service, input: Service): ServiceMutation {
    const valid = updatedObject(stored, withAllocatedNodePorts(stored, input));
    if (readyToRemove(valid)) return { remove: true, extra: this.removed(stored) };
    allocateNodePorts(valid, (port) => this.read(port) === undefined, this.random);
    if (equalButResourceVersion(stored, valid)) return { keep: true };
    return { put: valid, extra: this.extra(stored, valid) };
  }

  /** The txn part releasing everything `stored` holds (the Service leaves the store). */
  removed(stored: Service): TxnExtra {
    return this.extra(stored, undefined);
  }

  private extra(stored: Service | undefined, next: Service | undefined): TxnExtra {
    const plan = planServicePorts(stored, next, (port) => this.read(port)?.owner);
    const compares: Compare[] = [];
    const ops: RequestOp[] = [];
    if (next !== undefined) {
      const value = encodePortOwner(portOwner(next));
      for (const port of plan.claim) {
        const key = servicePortKey(port);
        compares.push({ key, target: 'createRevision', result: '=', revision: 0 });
        ops.push({ put: { key, value } });
      }
    }
    for (const port of plan.release) {
      const key = servicePortKey(port);
      compares.push({ key, target: 'modRevision', result: '=', revision: this.read(port)?.modRevision ?? 0 });
      ops.push({ deleteRange: { key } });
    }
    return { compares, ops };
  }

  /** The reservation of `port` in the locally applied state. A value that is not an owner still blocks the port. */
  private read(port: number): Reservation | undefined {
    const kv = this.backend.range(servicePortKey(port)).kvs[0];
    if (kv === undefined) return undefined;
    const owner = decodePortOwner(kv.value) ?? { namespace: '', name: '<unreadable reservation>', uid: '' };
    return { owner, modRevision: kv.modRevision };
  }
}
