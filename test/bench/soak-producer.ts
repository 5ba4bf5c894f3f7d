import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/db/index.js';
import { sendWake } from '../../src/ops/wake.js';
import type { SoakEvent } from './load-messages.js';

export interface ProducerPlan {
  wakePort: number;
  /** Small events per second, in turn to a folder, a folder, a folder, a user, a folder. */
  eventsPerSec: number;
  /** One broadcast (to every client) this often, besides the small events: TeamPass's are rare admin events. */
  broadcastEverySec: number;
  itemFolders: number[];
  userIds: number[];
  /** Large events per second to `bulkFolder`, whose slow subscribers fall behind. */
  bulkPerSec: number;
  bulkBytes: number;
  bulkFolder: number;
}

const TICK_MS = 20;

/**
 * Writes the soak's events as TeamPass does (one autocommit INSERT each, then a wake-up
 * datagram), one after another so ids commit in order, and remembers who may see each one.
 */
export class SoakProducer {
  readonly events: SoakEvent[] = [];
  small = 0;
  bulk = 0;
  broadcasts = 0;
  private readonly blob: string;

  constructor(
    private readonly db: Database,
    private readonly plan: ProducerPlan,
  ) {
    this.blob = 'x'.repeat(plan.bulkBytes);
  }

  /** Produces at the plan's rates until `untilMs` (Date.now()). */
  async run(untilMs: number): Promise<void> {
    const t0 = Date.now();
    while (Date.now() < untilMs) {
      const elapsedSec = (Date.now() - t0) / 1000;
      let wrote = false;
      while (this.small < elapsedSec * this.plan.eventsPerSec) {
        await this.insertSmall(this.small);
        this.small += 1;
        wrote = true;
      }
      while (this.broadcasts < elapsedSec / this.plan.broadcastEverySec) {
        await this.insert('broadcast', 0, 'system_maintenance', { message: 'soak', seq: this.broadcasts });
        this.broadcasts += 1;
        wrote = true;
      }
      while (this.bulk < elapsedSec * this.plan.bulkPerSec) {
        await this.insert('folder', this.plan.bulkFolder, 'item_updated', { item_id: 1, folder_id: this.plan.bulkFolder, label: 'soak bulk', updated_by: 1, seq: this.bulk, blob: this.blob });
        this.bulk += 1;
        wrote = true;
      }
      if (wrote) await sendWake(this.plan.wakePort);
      await sleep(TICK_MS);
    }
  }

  /** One last broadcast: a client that has it had everything before it, if nothing was lost. */
  async endMarker(): Promise<number> {
    const id = await this.insert('broadcast', 0, 'system_maintenance', { message: 'soak end' });
    await sendWake(this.plan.wakePort);
    return id;
  }

  private insertSmall(seq: number): Promise<number> {
    const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
    switch (seq % 5) {
      case 3: {
        const userId = pick(this.plan.userIds);
        return this.insert('user', userId, 'task_completed', { task_id: seq, task_type: 'soak', status: 'done', message: 'soak', seq });
      }
      default: {
        const folderId = pick(this.plan.itemFolders);
        return this.insert('folder', folderId, 'item_updated', { item_id: 1, folder_id: folderId, label: 'soak', updated_by: 1, seq });
      }
    }
  }

  private async insert(target: SoakEvent['target'], targetId: number, eventType: string, payload: Record<string, unknown>): Promise<number> {
    const [id] = await this.db.knex(this.db.t.events).insert({
      event_type: eventType,
      target_type: target,
      target_id: target === 'broadcast' ? null : targetId,
      payload: JSON.stringify(payload),
    });
    this.events.push({ id: Number(id), target, targetId });
    return Number(id);
  }
}
