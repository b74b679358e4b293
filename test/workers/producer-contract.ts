// The producer contract moved to test/contract/producer-contract.ts (one suite for every transport and runtime);
// this re-export keeps the Workers tests' imports working.
export * from '../contract/producer-contract.js'
