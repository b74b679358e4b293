import { backoffMs } from '../clock.js'
import type { KafkaCluster } from '../client/cluster.js'
import type { CompressionCodec } from '../compression.js'
import { IsoKafkaError } from '../errors.js'
import { brokerError } from '../protocol/error-messages.js'
import { InitProducerId } from '../protocol/messages/init-producer-id.js'
import type { ProducePartitionResponse, ProduceRequest, ProduceResponse } from '../protocol/messages/produce.js'
import { compressRecords, sealBatch, type RecordBatchBuilder } from '../protocol/record-batch.js'
import type { ProducerBatch } from './producer-batch.js'
import type { ResolvedOptions } from './options.js'

/**
 * One Produce request for the KafkaSender: each batch sealed once (header fields, compression, CRC; a retry resends
 * the same bytes), grouped by topic. `transactionalId` marks the request and its batches transactional.
 */
export async function buildProduceRequest(
  batches: ProducerBatch[],
  options: ResolvedOptions,
  codec: CompressionCodec | null,
  transactionalId: string | null,
): Promise<{ request: ProduceRequest; size: number }> {
  const byTopic = new Map<string, ProduceRequest['topics'][number]>()
  let size = 128
  // every batch's compression starts before any is awaited: gzip's CompressionStream compresses off the JavaScript
  // thread, so the batches of a request are compressed side by side
  const compressed = codec
    ? batches.map((batch) =>
        batch.sealed ? null : compressRecords(codec, (batch.builder as RecordBatchBuilder).recordsBytes()),
      )
    : null
  if (compressed) await Promise.all(compressed)
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i]!
    if (!batch.sealed) {
      const b = batch.builder as RecordBatchBuilder // kafkaBackend set the accumulator's format
      const fields = {
        producerId: options.idempotent ? batch.producerId : -1,
        producerEpoch: options.idempotent ? batch.producerEpoch : -1,
        baseSequence: options.idempotent ? batch.baseSequence : -1,
        transactional: transactionalId !== null,
      }
      batch.sealed = compressed
        ? sealBatch(b.recordsBytes(), b.count, b.firstTimestamp, b.maxTimestamp, fields, await compressed[i]!)
        : b.sealInPlace(fields)
    }
    let t = byTopic.get(batch.topic)
    if (!t) byTopic.set(batch.topic, (t = { topic: batch.topic, partitions: [] }))
    t.partitions.push({ partition: batch.partition, records: batch.sealed })
    size += batch.sealed.length + batch.topic.length + 16
  }
  const request = {
    transactionalId,
    acks: options.acks,
    timeoutMs: options.requestTimeoutMs,
    topics: [...byTopic.values()],
  }
  return { request, size }
}

/** Each batch's entry in a Produce response (a batch without one is missing from the map). */
export function responsesByBatch(
  batches: ProducerBatch[],
  res: ProduceResponse,
): Map<ProducerBatch, ProducePartitionResponse> {
  const map = new Map<ProducerBatch, ProducePartitionResponse>()
  for (const batch of batches) {
    const p = res.topics.find((t) => t.topic === batch.topic)?.partitions.find((p) => p.partition === batch.partition)
    if (p) map.set(batch, p)
  }
  return map
}

/**
 * An idempotent (non-transactional) producer's id from any broker, retried with backoff while `wanted()`; null when
 * no longer wanted. Throws the broker's error when it is not retriable (the producer cannot go on without an id).
 */
export async function fetchProducerId(
  cluster: KafkaCluster,
  options: ResolvedOptions,
  wanted: () => boolean,
): Promise<{ producerId: number; producerEpoch: number } | null> {
  const { clock } = options
  for (let attempt = 1; wanted(); attempt++) {
    try {
      const conn = await cluster.anyConnection()
      const res = await conn.request(InitProducerId, {
        transactionalId: null,
        transactionTimeoutMs: 60000,
        producerId: -1,
        producerEpoch: -1,
      })
      if (res.errorCode === 0) return res
      const err = brokerError(res.errorCode, 'InitProducerId')
      if (!err.retriable) throw err
    } catch (err) {
      if (err instanceof IsoKafkaError && !err.retriable) throw err
    }
    const wait = backoffMs(attempt, options.retryBackoffMs, options.retryBackoffMaxMs, clock.random)
    await new Promise<void>((resolve) => clock.setTimeout(resolve, wait))
  }
  return null
}
