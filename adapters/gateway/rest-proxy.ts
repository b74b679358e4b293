/**
 * Confluent REST Proxy produce APIs on the gateway, for clients that speak them:
 *   v3  POST /v3/clusters/{id}/topics/{t}/records   JSON records, concatenated; the answer streams one JSON line each
 *       GET  /v3/clusters[/{id}], /v3/clusters/{id}/topics/{t}/partitions
 *   v2  POST /topics/{t}                            {"records": [...]}, binary (base64) or json embedded
 *       GET  /topics/{t}/partitions
 * A request carries at most maxRecordsPerFrame records (413 above, nothing produced), is charged to the token's
 * records/s bucket whole (429 with Retry-After, never overdrawn), and every record is counted for backpressure.
 */
import type http from 'node:http'
import { splitJsonStream } from '../gateway-wire/index.js'
import type { RecordMetadata } from '../../src/producer/producer-batch.js'
import { recordCost, type Backpressure } from './limits.js'
import type { MetricsRegistry } from './metrics.js'
import type { ResolvedGatewayOptions } from './options.js'
import { errorCodeOf, safeMessage, type KafkaSide, type TopicMeta } from './producing.js'
import type { Authenticate, Session } from './requests.js'
import { topicAllowed, type GatewayTokenClaims } from './token.js'
import { decodePathPart, parseV2Record, parseV3Record, validTopicName, type RestRecord } from './validate.js'
import { json } from './http-front.js'

const V2_TYPE = 'application/vnd.kafka.v2+json'

export interface RestDeps {
  readBody(req: http.IncomingMessage, res: http.ServerResponse, max: number): Promise<Buffer | null>
  session(claims: GatewayTokenClaims, token: string): Session
  chargeLookups(session: Session, topics: Iterable<string>): number | null
}

export class RestProxy {
  deps!: RestDeps

  constructor(
    private readonly o: ResolvedGatewayOptions,
    private readonly kafka: KafkaSide,
    private readonly metrics: MetricsRegistry,
    private readonly backpressure: Backpressure,
    private readonly authenticate: Authenticate,
  ) {}

  async route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    path: string,
    token: string | null,
  ): Promise<void> {
    let m: RegExpExecArray | null
    const part = (s: string): string | null => {
      const d = decodePathPart(s)
      if (d === null) this.metrics.refuse('BAD_REQUEST')
      return d
    }
    const badPath = () => json(res, 400, { error_code: 400, message: 'malformed %-encoding in the path' })
    if ((m = /^\/v3\/clusters\/([^/]+)\/topics\/([^/]+)\/(records|partitions)$/.exec(path))) {
      const [clusterId, topic] = [part(m[1]!), part(m[2]!)]
      if (clusterId === null || topic === null) return badPath()
      if (m[3] === 'records' && method === 'POST') return this.v3Produce(req, res, clusterId, topic, token)
      if (m[3] === 'partitions' && method === 'GET') return this.v3Partitions(res, clusterId, topic, token)
    } else if ((path === '/v3/clusters' || (m = /^\/v3\/clusters\/([^/]+)$/.exec(path))) && method === 'GET') {
      const wanted = m ? part(m[1]!) : null
      if (m && wanted === null) return badPath()
      const auth = await this.authenticate(token)
      if ('t' in auth) return json(res, 401, { error_code: 401, message: auth.message })
      const id = await this.kafka.clusterId()
      if (!id) return json(res, 503, { error_code: 503, message: 'Kafka is not reachable' })
      const cluster = { kind: 'KafkaCluster', metadata: { self: `/v3/clusters/${id}` }, cluster_id: id }
      if (path === '/v3/clusters')
        return json(res, 200, {
          kind: 'KafkaClusterList',
          metadata: { self: '/v3/clusters', next: null },
          data: [cluster],
        })
      if (wanted !== id) return json(res, 404, { error_code: 404, message: 'Cluster not found' })
      return json(res, 200, cluster)
    } else if ((m = /^\/topics\/([^/]+)(\/partitions)?$/.exec(path))) {
      const topic = part(m[1]!)
      if (topic === null) return badPath()
      if (!m[2] && method === 'POST') return this.v2Produce(req, res, topic, token)
      if (m[2] && method === 'GET') return this.v2Partitions(res, topic, token)
    }
    return json(res, 404, { error_code: 404, message: 'not found' })
  }

  /** Authentication, authorization and topic existence. */
  private async preamble(
    res: http.ServerResponse,
    topic: string,
    token: string | null,
    v2: boolean,
  ): Promise<{ session: Session; meta: TopicMeta } | null> {
    const type = v2 ? V2_TYPE : 'application/json'
    const auth = await this.authenticate(token)
    if ('t' in auth) {
      json(res, 401, { error_code: v2 ? 40101 : 401, message: auth.message }, type)
      return null
    }
    if (!validTopicName(topic) || !topicAllowed(auth.claims.topics, topic)) {
      this.metrics.refuse('TOPIC_AUTHORIZATION_FAILED')
      json(res, 403, { error_code: v2 ? 40301 : 403, message: 'this token may not produce to this topic' }, type)
      return null
    }
    const session = this.deps.session(auth.claims, token!)
    const wait = this.deps.chargeLookups(session, [topic])
    if (wait !== null) {
      this.metrics.refuse('RATE_LIMITED')
      res.setHeader('Retry-After', String(Math.ceil((Number.isFinite(wait) ? wait : 1000) / 1000)))
      json(
        res,
        429,
        { error_code: v2 ? 42902 : 429, message: `more than ${this.o.limits.metadataTopicsPerSecond} topic lookups/s` },
        type,
      )
      return null
    }
    const meta = await this.kafka.lookupTopic(topic)
    if (meta.errorCode === 3 || meta.errorCode === 17) {
      json(res, 404, { error_code: v2 ? 40401 : 404, message: `Topic ${topic} not found.` }, type)
      return null
    }
    if (meta.errorCode !== 0) {
      json(
        res,
        503,
        { error_code: v2 ? 50003 : 503, message: `topic ${topic} is not available (Kafka error ${meta.errorCode})` },
        type,
      )
      return null
    }
    return { session, meta }
  }

  /** The cluster id, or null after answering 503 (Kafka never reached: retriable, not "no such cluster"). */
  private async clusterOr503(res: http.ServerResponse): Promise<string | null> {
    const id = await this.kafka.clusterId()
    if (id === null) json(res, 503, { error_code: 503, message: 'Kafka is not reachable' })
    return id
  }

  /** Takes a request's records from the session's bucket; false after answering 413 / 429. */
  private charge(res: http.ServerResponse, session: Session, n: number, v2: boolean): boolean {
    const type = v2 ? V2_TYPE : 'application/json'
    const wait = session.records.take(n)
    if (wait === null) return true
    if (!Number.isFinite(wait)) {
      this.metrics.refuse('LIMIT_EXCEEDED')
      json(
        res,
        413,
        {
          error_code: v2 ? 41301 : 413,
          message: `${n} records in one request; the records/s limit is ${this.o.limits.recordsPerSecond}`,
        },
        type,
      )
      return false
    }
    this.metrics.refuse('RATE_LIMITED')
    res.setHeader('Retry-After', String(Math.ceil(wait / 1000)))
    json(
      res,
      429,
      { error_code: v2 ? 42901 : 429, message: `more than ${this.o.limits.recordsPerSecond} records/s` },
      type,
    )
    return false
  }

  private async body(req: http.IncomingMessage, res: http.ServerResponse, v2: boolean): Promise<string | null> {
    const body = await this.deps.readBody(req, res, this.o.limits.maxFrameBytes)
    if (body) return body.toString('utf8')
    this.metrics.refuse('FRAME_TOO_LARGE')
    json(
      res,
      413,
      { error_code: v2 ? 41301 : 413, message: `the body is larger than ${this.o.limits.maxFrameBytes} bytes` },
      v2 ? V2_TYPE : 'application/json',
    )
    return null
  }

  /** Sends one record, counted for backpressure until Kafka answers. */
  private sendOne(topic: string, r: RestRecord): Promise<RecordMetadata> {
    const bytes = recordCost(r.key, r.value, r.headers)
    this.backpressure.add(bytes)
    this.metrics.recordsIn++
    const producer = this.kafka.producer
    const [sent] = this.kafka.send(topic, r.partition, [r])
    return sent!.then(
      (meta) => {
        this.backpressure.sub(bytes)
        this.metrics.recordsOut++
        return meta
      },
      (err) => {
        this.backpressure.sub(bytes)
        this.metrics.recordsFailed++
        this.kafka.checkFatal(err, producer)
        this.metrics.refuse(`KAFKA_${errorCodeOf(err)}`)
        throw err
      },
    )
  }

  private async v3Partitions(
    res: http.ServerResponse,
    clusterId: string,
    topic: string,
    token: string | null,
  ): Promise<void> {
    const ok = await this.preamble(res, topic, token, false)
    if (!ok) return
    const id = await this.clusterOr503(res)
    if (id === null) return
    if (clusterId !== id) return json(res, 404, { error_code: 404, message: 'Cluster not found' })
    json(res, 200, {
      kind: 'KafkaPartitionList',
      metadata: { self: `/v3/clusters/${id}/topics/${topic}/partitions`, next: null },
      data: Array.from({ length: ok.meta.partitions }, (_, p) => {
        const leader = ok.meta.leaders[p] ?? -1
        return {
          kind: 'KafkaPartition',
          cluster_id: id,
          topic_name: topic,
          partition_id: p,
          leader:
            leader >= 0 ? { related: `/v3/clusters/${id}/topics/${topic}/partitions/${p}/replicas/${leader}` } : null,
        }
      }),
    })
  }

  private async v3Produce(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    clusterId: string,
    topic: string,
    token: string | null,
  ): Promise<void> {
    const ok = await this.preamble(res, topic, token, false)
    if (!ok) return
    const id = await this.clusterOr503(res)
    if (id === null) return
    if (clusterId !== id) return json(res, 404, { error_code: 404, message: 'Cluster not found' })
    const text = await this.body(req, res, false)
    if (text === null) return
    const max = this.o.limits.maxRecordsPerFrame
    let items: unknown[]
    try {
      items = splitJsonStream(text, max)
    } catch (err) {
      if (err instanceof RangeError) {
        this.metrics.refuse('LIMIT_EXCEEDED')
        return json(res, 413, { error_code: 413, message: `more than ${max} records in one request` })
      }
      this.metrics.refuse('MALFORMED')
      return json(res, 400, {
        error_code: 400,
        message: `the body is not JSON: ${(err as Error).message.slice(0, 200)}`,
      })
    }
    if (items.length === 0) return json(res, 400, { error_code: 400, message: 'the body holds no record' })
    if (!this.charge(res, ok.session, items.length, false)) return
    // records are sent in order, synchronously, so a keyless stream keeps its order within a partition
    const answers: Array<Promise<Record<string, unknown>>> = items.map((item) => {
      let r: RestRecord
      try {
        r = parseV3Record(item, ok.meta.partitions)
      } catch (err) {
        this.metrics.refuse('MALFORMED')
        return Promise.resolve({ error_code: 400, message: (err as Error).message })
      }
      return this.sendOne(topic, r).then(
        (meta) => ({
          error_code: 200,
          cluster_id: id,
          topic_name: topic,
          partition_id: meta.partition,
          offset: meta.offset,
          timestamp: new Date(meta.timestamp).toISOString(),
          ...(r.keyType ? { key: { type: r.keyType, size: r.key?.length ?? 0 } } : {}),
          ...(r.valueType ? { value: { type: r.valueType, size: r.value?.length ?? 0 } } : {}),
        }),
        (err) => {
          const code = errorCodeOf(err)
          return { error_code: code === 10 ? 413 : code === 3 ? 404 : 500, message: safeMessage(err) }
        },
      )
    })
    if (answers.length === 1) {
      const only = await answers[0]!
      return json(res, only.error_code === 200 ? 200 : (only.error_code as number), only)
    }
    // streamed: one line per record, in order, as each is known (never the whole answer in memory)
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
    for (const a of answers) {
      const line = JSON.stringify(await a) + '\n'
      if (!res.write(line)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve))
      if (res.destroyed) return
    }
    res.end()
  }

  private async v2Partitions(res: http.ServerResponse, topic: string, token: string | null): Promise<void> {
    const ok = await this.preamble(res, topic, token, true)
    if (!ok) return
    json(
      res,
      200,
      Array.from({ length: ok.meta.partitions }, (_, p) => {
        const leader = ok.meta.leaders[p] ?? -1
        return { partition: p, leader, replicas: leader >= 0 ? [{ broker: leader, leader: true, in_sync: true }] : [] }
      }),
      V2_TYPE,
    )
  }

  private async v2Produce(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    topic: string,
    token: string | null,
  ): Promise<void> {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase()
    const embedded =
      type === 'application/vnd.kafka.binary.v2+json'
        ? 'binary'
        : type === 'application/vnd.kafka.json.v2+json'
          ? 'json'
          : null
    if (!embedded) {
      return json(
        res,
        415,
        {
          error_code: 415,
          message: 'Content-Type must be application/vnd.kafka.binary.v2+json or application/vnd.kafka.json.v2+json',
        },
        V2_TYPE,
      )
    }
    const ok = await this.preamble(res, topic, token, true)
    if (!ok) return
    const text = await this.body(req, res, true)
    if (text === null) return
    const max = this.o.limits.maxRecordsPerFrame
    let parsed: RestRecord[]
    try {
      const doc = JSON.parse(text) as { records?: unknown }
      if (!doc || !Array.isArray(doc.records) || doc.records.length === 0)
        throw new Error('the body must be {"records": [...]} with at least one record')
      if (doc.records.length > max) {
        this.metrics.refuse('LIMIT_EXCEEDED')
        return json(res, 413, { error_code: 41301, message: `more than ${max} records in one request` }, V2_TYPE)
      }
      parsed = doc.records.map((r: unknown) => parseV2Record(r, embedded, ok.meta.partitions))
    } catch (err) {
      this.metrics.refuse('MALFORMED')
      return json(res, 422, { error_code: 42205, message: (err as Error).message.slice(0, 200) }, V2_TYPE)
    }
    if (!this.charge(res, ok.session, parsed.length, true)) return
    const settled = await Promise.allSettled(parsed.map((r) => this.sendOne(topic, r)))
    const offsets = settled.map((s) => {
      if (s.status === 'fulfilled')
        return { partition: s.value.partition, offset: s.value.offset, error_code: null, error: null }
      const code = errorCodeOf(s.reason)
      const retriable =
        code === 7 || code === 13 || code === 3 || code === 5 || code === 6 || code === 19 || code === 20
      return { partition: null, offset: null, error_code: retriable ? 2 : 1, error: safeMessage(s.reason) }
    })
    json(res, 200, { key_schema_id: null, value_schema_id: null, offsets }, V2_TYPE)
  }
}
