import { murmur2Partition } from './murmur2.js'

/** What a partitioner sees of a record. */
export interface PartitionerRecord {
  topic: string
  key: Uint8Array | null
  value: Uint8Array | null
}

/** A custom partitioner: any partition in [0, partitionCount). May be async; per-partition send order is kept. */
export type PartitionerFunction = (record: PartitionerRecord, partitionCount: number) => number | Promise<number>

export type PartitionerOption = 'default' | 'murmur2' | 'roundRobin' | 'sha256' | PartitionerFunction

/** Internal form: `partition` for a record (sync or async); `onAppend` lets the sticky part count bytes. */
export interface Partitioner {
  partition(record: PartitionerRecord, partitionCount: number, available: readonly number[]): number | Promise<number>
  onAppend?(topic: string, partition: number, bytes: number): void
}

/**
 * Uniform sticky partitioning for records without a key (KIP-794): keep one partition until about `batchSize`
 * bytes went to it, then move to another one at random, among partitions that have a leader.
 * (Java also weighs partitions by queue depth — adaptive partitioning; not done here.)
 */
export class StickyPartitioner {
  readonly #current = new Map<string, { partition: number; bytes: number }>()
  /** The partition each topic last moved away from, avoided on the next pick. */
  readonly #previous = new Map<string, number>()
  // the last topic's state, so a run of sends to one topic skips the map lookups (two per record otherwise)
  #lastTopic: string | null = null
  #lastState: { partition: number; bytes: number } | undefined = undefined
  readonly #batchSize: number
  readonly #random: () => number
  constructor(batchSize: number, random: () => number) {
    this.#batchSize = batchSize
    this.#random = random
  }

  #stateOf(topic: string): { partition: number; bytes: number } | undefined {
    if (topic !== this.#lastTopic) {
      this.#lastTopic = topic
      this.#lastState = this.#current.get(topic)
    }
    return this.#lastState
  }

  partition(topic: string, partitionCount: number, available: readonly number[]): number {
    const state = this.#stateOf(topic)
    if (state && state.partition < partitionCount) return state.partition
    const partition = this.#pick(this.#previous.get(topic) ?? -1, partitionCount, available)
    const fresh = { partition, bytes: 0 }
    this.#current.set(topic, fresh)
    this.#lastState = fresh
    return partition
  }

  onAppend(topic: string, partition: number, bytes: number): void {
    const state = this.#stateOf(topic)
    if (!state || state.partition !== partition) return
    state.bytes += bytes
    if (state.bytes >= this.#batchSize) {
      this.#current.delete(topic)
      this.#lastState = undefined
      this.#previous.set(topic, partition)
    }
  }

  #pick(avoid: number, partitionCount: number, available: readonly number[]): number {
    const pool = available.length > 0 ? available : Array.from({ length: partitionCount }, (_, i) => i)
    const choices = pool.length > 1 ? pool.filter((p) => p !== avoid) : pool
    return choices[Math.floor(this.#random() * choices.length)] ?? 0
  }
}

async function sha256Partition(key: Uint8Array, partitionCount: number): Promise<number> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', key as BufferSource))
  const n = ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) & 0x7fffffff
  return n % partitionCount
}

export function createPartitioner(
  option: PartitionerOption | undefined,
  batchSize: number,
  random: () => number,
): Partitioner {
  if (option === undefined || option === 'default' || option === 'murmur2' || option === 'sha256') {
    // a keyed record goes where its key hashes to (Java's murmur2, or SHA-256); one without a key sticks (KIP-794)
    const byKey = option === 'sha256' ? sha256Partition : murmur2Partition
    const sticky = new StickyPartitioner(batchSize, random)
    return {
      partition: (record, count, available) =>
        record.key === null ? sticky.partition(record.topic, count, available) : byKey(record.key, count),
      onAppend: (topic, partition, bytes) => sticky.onAppend(topic, partition, bytes),
    }
  }
  if (option === 'roundRobin') {
    const counters = new Map<string, number>()
    return {
      partition: (record, count, available) => {
        const next = counters.get(record.topic) ?? 0
        counters.set(record.topic, next + 1)
        // like Java's RoundRobinPartitioner: cycle over partitions with a leader when there are any
        return available.length > 0 ? available[next % available.length]! : next % count
      },
    }
  }
  const custom = option
  // The producer passes its own (reused) pending-send object to the built-in partitioners; a user's function gets a
  // record of its own, which it may keep (an async partitioner does, across later sends).
  return { partition: (record, count) => custom({ topic: record.topic, key: record.key, value: record.value }, count) }
}
