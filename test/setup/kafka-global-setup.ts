/// <reference types="node" />
// Vitest globalSetup for integration tests: provides `kafkaBootstrap` (inject('kafkaBootstrap')) and sets
// process.env.KAFKA_BOOTSTRAP. Uses an existing cluster when KAFKA_BOOTSTRAP is set; otherwise starts a 1-node
// cluster named "vitest" with scripts/kafka.mjs (reused if one is already running) and stops it in teardown,
// only if this setup started it.

import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBootstrap: string
  }
}

interface ClusterState {
  bootstrap: string
  saslBootstrap?: string
  tlsBootstrap?: string
  tls?: { ca: string }
  reused?: boolean
}
interface KafkaScript {
  startKafka(opts: { name?: string; nodes?: number; sasl?: boolean; tls?: boolean }): Promise<ClusterState>
  stopKafka(opts: { name?: string }): Promise<boolean>
}

const CLUSTER_NAME = process.env.ISOKAFKA_TEST_CLUSTER ?? 'vitest'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.KAFKA_BOOTSTRAP
  if (given) {
    project.provide('kafkaBootstrap', given)
    return async () => {}
  }
  const scriptPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/kafka.mjs')
  const kafka = (await import(/* @vite-ignore */ scriptPath)) as KafkaScript
  const t0 = Date.now()
  // SASL and TLS listeners too, so the SASL/TLS cases of every suite run (KAFKA_SASL_BOOTSTRAP, KAFKA_TLS_*)
  const state = await kafka.startKafka({ name: CLUSTER_NAME, nodes: 1, sasl: true, tls: true })
  const startedHere = !state.reused
  process.stderr.write(
    `[kafka-global-setup] ${startedHere ? 'started' : 'reusing'} cluster "${CLUSTER_NAME}" at ${state.bootstrap}` +
      `${startedHere ? ` in ${((Date.now() - t0) / 1000).toFixed(1)} s` : ''}\n`,
  )
  process.env.KAFKA_BOOTSTRAP = state.bootstrap
  if (state.saslBootstrap) process.env.KAFKA_SASL_BOOTSTRAP = state.saslBootstrap
  if (state.tlsBootstrap) process.env.KAFKA_TLS_BOOTSTRAP = state.tlsBootstrap
  if (state.tls?.ca) process.env.KAFKA_TLS_CA = state.tls.ca
  // a scripts/kafka.mjs cluster (its SASL user, alice): test/integration/security.test.ts uses it instead of its own
  process.env.ISOKAFKA_TEST_CLUSTER_SCRIPTED = CLUSTER_NAME
  project.provide('kafkaBootstrap', state.bootstrap)
  return async () => {
    if (startedHere) await kafka.stopKafka({ name: CLUSTER_NAME })
  }
}
