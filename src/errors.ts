/**
 * Every error isokafka raises is an IsoKafkaError: a string `code` to switch on, `retriable` to say whether trying
 * again may succeed, and `cause` for whatever lay underneath.
 */
export class IsoKafkaError extends Error {
  readonly code: string
  readonly retriable: boolean
  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retriable = options.retriable ?? false
  }
}

/**
 * Kafka's error codes whose exception class is a `RetriableException` (Errors.java), so that an error a gateway relays
 * knows whether to retry without the table of every name (protocol/error-codes.ts, which only the Kafka path loads).
 */
export const RETRIABLE_CODES: readonly number[] = [
  2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84, 88, 89, 100, 103, 106, 122,
  123, 133,
]

/** The shape of a Kafka error name (`Errors.java` enum names). */
const KAFKA_NAME = /^[A-Z][A-Z0-9_]{0,63}$/

/** Names of the codes a gateway client makes up itself (a REST proxy's HTTP status, a missing topic). */
const CLIENT_CODE_NAMES: Record<number, string> = {
  [-1]: 'UNKNOWN_SERVER_ERROR',
  3: 'UNKNOWN_TOPIC_OR_PARTITION',
  5: 'LEADER_NOT_AVAILABLE',
  7: 'REQUEST_TIMED_OUT',
  10: 'MESSAGE_TOO_LARGE',
  13: 'NETWORK_EXCEPTION',
  29: 'TOPIC_AUTHORIZATION_FAILED',
  87: 'INVALID_RECORD',
}

/**
 * An error code a broker (or gateway) returned. `code` is Kafka's name for it, `errorCode` the number. The message
 * is `text` (Kafka's message for the code: see brokerError() in protocol/error-messages.ts) or the name, then `detail`.
 * The name comes with the error (`options.name`: brokerError() and kafkaError() look it up in Kafka's table, a gateway
 * sends it); without one, a few common codes are named here and any other is `KAFKA_ERROR_<code>`.
 */
export class KafkaProtocolError extends IsoKafkaError {
  readonly errorCode: number
  constructor(errorCode: number, detail?: string, options: { cause?: unknown; text?: string; name?: string } = {}) {
    // a name may come off the wire (a gateway's ack): only one shaped like Kafka's names becomes the error's code
    const given = typeof options.name === 'string' && KAFKA_NAME.test(options.name) ? options.name : ''
    const name = given || CLIENT_CODE_NAMES[errorCode] || `KAFKA_ERROR_${errorCode}`
    const text = options.text || name
    super(name, detail ? `${text} (${detail})` : text, {
      retriable: RETRIABLE_CODES.includes(errorCode),
      cause: options.cause,
    })
    this.errorCode = errorCode
  }
}

/** Could not connect, or the connection dropped. Always retriable. */
export class ConnectionError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONNECTION_ERROR', message, { retriable: true, cause: options.cause })
  }
}

/** A request got no answer in `requestTimeoutMs`; the broker may or may not have written it. */
export class RequestTimeoutError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('REQUEST_TIMEOUT', message, { retriable: true, cause: options.cause })
  }
}

/** A record was not acknowledged within `deliveryTimeoutMs`. (close({ timeoutMs }) fails what is left with PRODUCER_CLOSED.) */
export class DeliveryTimeoutError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DELIVERY_TIMEOUT', message, { retriable: false, cause: options.cause })
  }
}

/** `send()` waited `maxBlockMs` for buffer room or metadata and gave up. */
export class MaxBlockTimeoutError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MAX_BLOCK_TIMEOUT', message, { retriable: true, cause: options.cause })
  }
}

/** A record larger than `maxRequestSize` or `bufferMemory`. Never retriable. */
export class RecordTooLargeError extends IsoKafkaError {
  constructor(message: string) {
    super('RECORD_TOO_LARGE', message)
  }
}

/** The key or value serializer threw, or produced something that is not bytes. */
export class SerializationError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SERIALIZATION_ERROR', message, { cause: options.cause })
  }
}

/** Bad arguments to a producer call (invalid topic name, partition out of range, bad option). */
export class InvalidArgumentError extends IsoKafkaError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause })
  }
}

/** The producer was closed; calls after `close()` get this. */
export class ProducerClosedError extends IsoKafkaError {
  constructor(message = 'the producer is closed') {
    super('PRODUCER_CLOSED', message)
  }
}

/**
 * The producer hit an error it cannot recover from (fenced, out-of-order sequence, authorization, ...).
 * Every pending and later send fails with it.
 */
export class ProducerFatalError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('PRODUCER_FATAL', message, { cause: options.cause })
  }
}

/** A response could not be decoded: truncated, garbled or not what the request asked for. */
export class MalformedResponseError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MALFORMED_RESPONSE', message, { retriable: true, cause: options.cause })
  }
}

/** SASL handshake or authentication failed. Not retried: a wrong password will not become right. */
export class AuthenticationError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('AUTHENTICATION_FAILED', message, { retriable: false, cause: options.cause })
  }
}

/** The broker does not support a version of an API we need. */
export class UnsupportedVersionError extends IsoKafkaError {
  constructor(message: string) {
    super('UNSUPPORTED_VERSION', message)
  }
}

/**
 * A transactional call in the wrong state (Java's IllegalStateException): a send outside a begun transaction on a
 * transactional producer, beginTransaction() twice, commit before begin, any of them before initTransactions(), or
 * a transactional call on a producer without `transactionalId`.
 */
export class TransactionStateError extends IsoKafkaError {
  constructor(message: string) {
    super('INVALID_TRANSACTION_STATE', message)
  }
}

/**
 * The current transaction hit an error (a send failed, the coordinator refused a partition or offsets): it cannot
 * commit. Call abortTransaction(), then begin a new one. `cause` is the error behind it.
 */
export class TransactionAbortableError extends IsoKafkaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TRANSACTION_ABORTABLE', message, { cause: options.cause })
  }
}

/** A record was never sent because its transaction was aborted first (Java's TransactionAbortedException). */
export class TransactionAbortedError extends IsoKafkaError {
  constructor(message = 'the transaction was aborted before this record was sent') {
    super('TRANSACTION_ABORTED', message)
  }
}
