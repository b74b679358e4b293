/**
 * Kafka's key hash: a port of `org.apache.kafka.common.utils.Utils.murmur2`
 * (MurmurHash2, 32-bit, seed 0x9747b28c) and of the default key partitioner
 * `BuiltInPartitioner.partitionForKey`. Records with the same key land on the
 * same partition as they would from the Java client.
 */

const SEED = 0x9747b28c
const M = 0x5bd1e995

/** Java's `Utils.murmur2(byte[])`: the hash as a signed 32-bit int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = SEED ^ length
  const length4 = length & ~3

  for (let i = 0; i < length4; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }

  // The tail, as Java's fall-through switch on length % 4 does it.
  const tail = length & 3
  if (tail !== 0) {
    if (tail === 3) h ^= data[length4 + 2]! << 16
    if (tail >= 2) h ^= data[length4 + 1]! << 8
    h ^= data[length4]!
    h = Math.imul(h, M)
  }

  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** Java's `Utils.toPositive(int)`: clear the sign bit (not `Math.abs`). */
export function toPositive(n: number): number {
  return n & 0x7fffffff
}

/**
 * The partition Java's producer picks for a non-null serialized key:
 * `toPositive(murmur2(key)) % numPartitions`.
 */
export function murmur2Partition(keyBytes: Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions <= 0) {
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`)
  }
  return toPositive(murmur2(keyBytes)) % numPartitions
}
