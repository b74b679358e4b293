/**
 * The gateway wire format, shared by the gateway server (adapters/gateway) and the transports that speak to it
 * (adapters/websocket, adapters/fetch): frames and their MessagePack codec, the shape check and id peek a server runs
 * before decoding, and the JSON/base64 helpers of the REST Proxy APIs. Runtime-free. docs/gateway-protocol.md.
 */
export * from './frames.js'
export { msgpackShapeOk, peekFrameId } from './shape.js'
export { fromBase64, splitJsonStream, toBase64 } from './rest-json.js'
