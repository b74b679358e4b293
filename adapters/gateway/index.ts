/**
 * isokafka gateway (Node): lets browsers, Workers and other HTTP/WebSocket-only clients produce to Kafka.
 *
 *   WebSocket  /v1/ws                                     MessagePack frames (docs/gateway-protocol.md)
 *   HTTP POST  /v1/metadata, /v1/produce                  one MessagePack frame in, one out
 *   HTTP POST  /v3/clusters/{id}/topics/{t}/records       Confluent REST Proxy v3 produce (JSON, streamed records)
 *   HTTP GET   /v3/clusters, /v3/clusters/{id}/topics/{t}/partitions
 *   HTTP POST  /topics/{t}                                Confluent REST Proxy v2 produce (binary/json embedded)
 *   HTTP GET   /topics/{t}/partitions
 *   HTTP GET   /healthz (liveness), /readyz (Kafka reachable), /metrics (Prometheus)
 *
 * Records are produced with isokafka's own Node TCP producer (acks=all, idempotent). A client batch is acknowledged
 * only after Kafka acknowledged every record of it; batch ids are deduplicated per token subject. The parts are
 * listed in ./server.ts; docs/deploying-gateway.md runs it as a service.
 */
export { createGateway, type Gateway } from './server.js'
export { DEFAULT_LIMITS, MIN_SECRET_LENGTH, type GatewayOptions } from './options.js'
export type { GatewayMetrics } from './metrics.js'
export type { GatewayLogEntry, LogLevel } from './log.js'
export { createGatewayToken, verifyGatewayToken, topicAllowed } from './token.js'
export type { CreateGatewayTokenOptions, GatewayTokenClaims, TokenCheck, TokenSecret } from './token.js'
export * from '../gateway-wire/index.js'
export * from './config.js'
