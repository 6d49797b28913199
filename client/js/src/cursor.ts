// A cursor is where a client is in every shard's log (docs/PROTOCOL.md,
// "Versions, shards and message ids"): per shard, the last message id
// covered. A message id's top byte is its shard; a single server has only
// shard 0. Its text form, which an application stores, is the ids in
// decimal separated by commas.

const SHARD_SHIFT = 56n;
export const MAX_SHARDS = 64;

/** shardOf returns a message id's shard. */
export function shardOf(id: bigint): number {
  return Number(id >> SHARD_SHIFT);
}

/** shardBase is the id before a shard's first: nothing of it seen. */
export function shardBase(shard: number): bigint {
  return BigInt(shard) << SHARD_SHIFT;
}

export class Cursor {
  /** At most one id per shard, in increasing shard order. */
  private readonly ids: bigint[];

  constructor(ids: readonly bigint[] = []) {
    this.ids = [];
    for (const id of ids) this.advance(id);
  }

  /** parse reads what toString wrote ("" is the empty cursor). */
  static parse(text: string): Cursor {
    if (text.trim() === "") return new Cursor();
    const ids = text.split(",").map((part) => {
      if (!/^\d+$/.test(part)) throw new Error(`not a cursor: ${JSON.stringify(text)}`);
      const id = BigInt(part);
      if (id >= 1n << 64n || shardOf(id) >= MAX_SHARDS) throw new Error(`not a cursor: ${JSON.stringify(text)}`);
      return id;
    });
    return new Cursor(ids);
  }

  /** at returns the cursor's id in shard (its base if it names none). */
  at(shard: number): bigint {
    for (const id of this.ids) if (shardOf(id) === shard) return id;
    return shardBase(shard);
  }

  /** covers: id is at or below the cursor in its shard. */
  covers(id: bigint): boolean {
    return id <= this.at(shardOf(id));
  }

  /** advance moves the cursor to id in id's shard if that is forward. */
  advance(id: bigint): this {
    const shard = shardOf(id);
    if (id === shardBase(shard)) return this;
    for (let i = 0; i < this.ids.length; i++) {
      const s = shardOf(this.ids[i]!);
      if (s === shard) {
        if (id > this.ids[i]!) this.ids[i] = id;
        return this;
      }
      if (s > shard) {
        this.ids.splice(i, 0, id);
        return this;
      }
    }
    this.ids.push(id);
    return this;
  }

  merge(other: Cursor): this {
    for (const id of other.ids) this.advance(id);
    return this;
  }

  clone(): Cursor {
    return new Cursor(this.ids);
  }

  /** The ids, one per shard, in shard order. */
  toArray(): bigint[] {
    return [...this.ids];
  }

  toString(): string {
    return this.ids.join(",");
  }
}
