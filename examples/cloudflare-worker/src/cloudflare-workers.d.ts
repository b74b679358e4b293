// The part of the Workers runtime module `cloudflare:workers` this example uses (so it type-checks without
// @cloudflare/workers-types; in your own project, install that package and drop this file).
declare module 'cloudflare:workers' {
  export interface DurableObjectState {
    waitUntil(promise: Promise<unknown>): void
  }
  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState
    protected readonly env: Env
    constructor(ctx: DurableObjectState, env: Env)
  }
}
