/// <reference types="node" />
// Typed access to scripts/kafka.mjs (plain JS) for tests that start their own clusters or kill/restart nodes.
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface ClusterState {
  bootstrap: string
  saslBootstrap?: string
  tlsBootstrap?: string
  tls?: { ca: string }
  nodes: Array<{ id: number; pid: number | null; port: number }>
}
export interface KafkaScript {
  startKafka(opts: {
    name?: string
    nodes?: number
    sasl?: boolean
    tls?: boolean
    autoCreate?: boolean
    overrides?: string[]
  }): Promise<ClusterState>
  stopKafka(opts: { name?: string }): Promise<boolean>
  killNode(id: number, opts: { name?: string; signal?: string }): Promise<ClusterState>
  restartNode(id: number, opts: { name?: string }): Promise<ClusterState>
  createTopic(
    bootstrap: string,
    topic: string,
    partitions?: number,
    replication?: number,
    opts?: { configs?: Record<string, string | number> },
  ): Promise<void>
}

const scriptPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/kafka.mjs')
export function kafkaScript(): Promise<KafkaScript> {
  return import(/* @vite-ignore */ scriptPath) as Promise<KafkaScript>
}
