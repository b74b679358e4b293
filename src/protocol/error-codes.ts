/**
 * The Kafka protocol error table: every error code a broker can return.
 *
 * Facts come from Apache Kafka's
 * `clients/src/main/java/org/apache/kafka/common/protocol/Errors.java`: the enum
 * name and the numeric code of each entry (its default message is in
 * error-messages.ts, kept apart so bundles that never talk to a broker, like the
 * browser's gateway path, need not carry ~10 KB of English). `retriable` is
 * true exactly when the entry's exception class extends
 * `org.apache.kafka.common.errors.RetriableException` (directly, or through
 * `InvalidMetadataException` / `RefreshRetriableException`), which is also the
 * "Retriable" column of Kafka's generated protocol error docs. Codes 129-136 and
 * the current wording of codes 24 and 81 follow Kafka 4.x (4.4 adds 134-136).
 *
 * Note that "retriable" is Kafka's exception-class notion. Some codes that a
 * producer does not blindly resend are still retriable here (CORRUPT_MESSAGE,
 * CONCURRENT_TRANSACTIONS), and some codes an idempotent producer recovers from
 * are not (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID,
 * INVALID_PRODUCER_EPOCH). Producer retry policy belongs to the producer.
 */

import { KafkaProtocolError, RETRIABLE_CODES } from '../errors.js'

/** Name and retriable flag of a Kafka error code. */
export interface KafkaErrorBasics {
  /** The int16 error code on the wire. */
  code: number
  /** Kafka's `Errors` enum name, e.g. `NOT_LEADER_OR_FOLLOWER`. */
  name: string
  /** Whether Kafka's exception for this code is a `RetriableException`. */
  retriable: boolean
}

/**
 * Kafka's `Errors` enum names in code order, code -1 first (UNKNOWN_SERVER_ERROR, NONE = 0, OFFSET_OUT_OF_RANGE = 1,
 * ...): name i is code i - 1. One string rather than rows, because the table ships in every bundle (an error from a
 * gateway carries a Kafka code too) and this form is ~0.5 KB smaller gzipped. The line ends are continuations: the
 * string has single spaces only.
 */
const NAMES = `UNKNOWN_SERVER_ERROR NONE OFFSET_OUT_OF_RANGE CORRUPT_MESSAGE UNKNOWN_TOPIC_OR_PARTITION INVALID_FETCH_SIZE \
LEADER_NOT_AVAILABLE NOT_LEADER_OR_FOLLOWER REQUEST_TIMED_OUT BROKER_NOT_AVAILABLE REPLICA_NOT_AVAILABLE \
MESSAGE_TOO_LARGE STALE_CONTROLLER_EPOCH OFFSET_METADATA_TOO_LARGE NETWORK_EXCEPTION \
COORDINATOR_LOAD_IN_PROGRESS COORDINATOR_NOT_AVAILABLE NOT_COORDINATOR INVALID_TOPIC_EXCEPTION \
RECORD_LIST_TOO_LARGE NOT_ENOUGH_REPLICAS NOT_ENOUGH_REPLICAS_AFTER_APPEND INVALID_REQUIRED_ACKS \
ILLEGAL_GENERATION INCONSISTENT_GROUP_PROTOCOL INVALID_GROUP_ID UNKNOWN_MEMBER_ID INVALID_SESSION_TIMEOUT \
REBALANCE_IN_PROGRESS INVALID_COMMIT_OFFSET_SIZE TOPIC_AUTHORIZATION_FAILED GROUP_AUTHORIZATION_FAILED \
CLUSTER_AUTHORIZATION_FAILED INVALID_TIMESTAMP UNSUPPORTED_SASL_MECHANISM ILLEGAL_SASL_STATE \
UNSUPPORTED_VERSION TOPIC_ALREADY_EXISTS INVALID_PARTITIONS INVALID_REPLICATION_FACTOR \
INVALID_REPLICA_ASSIGNMENT INVALID_CONFIG NOT_CONTROLLER INVALID_REQUEST UNSUPPORTED_FOR_MESSAGE_FORMAT \
POLICY_VIOLATION OUT_OF_ORDER_SEQUENCE_NUMBER DUPLICATE_SEQUENCE_NUMBER INVALID_PRODUCER_EPOCH \
INVALID_TXN_STATE INVALID_PRODUCER_ID_MAPPING INVALID_TRANSACTION_TIMEOUT CONCURRENT_TRANSACTIONS \
TRANSACTION_COORDINATOR_FENCED TRANSACTIONAL_ID_AUTHORIZATION_FAILED SECURITY_DISABLED \
OPERATION_NOT_ATTEMPTED KAFKA_STORAGE_ERROR LOG_DIR_NOT_FOUND SASL_AUTHENTICATION_FAILED UNKNOWN_PRODUCER_ID \
REASSIGNMENT_IN_PROGRESS DELEGATION_TOKEN_AUTH_DISABLED DELEGATION_TOKEN_NOT_FOUND \
DELEGATION_TOKEN_OWNER_MISMATCH DELEGATION_TOKEN_REQUEST_NOT_ALLOWED DELEGATION_TOKEN_AUTHORIZATION_FAILED \
DELEGATION_TOKEN_EXPIRED INVALID_PRINCIPAL_TYPE NON_EMPTY_GROUP GROUP_ID_NOT_FOUND \
FETCH_SESSION_ID_NOT_FOUND INVALID_FETCH_SESSION_EPOCH LISTENER_NOT_FOUND TOPIC_DELETION_DISABLED \
FENCED_LEADER_EPOCH UNKNOWN_LEADER_EPOCH UNSUPPORTED_COMPRESSION_TYPE STALE_BROKER_EPOCH \
OFFSET_NOT_AVAILABLE MEMBER_ID_REQUIRED PREFERRED_LEADER_NOT_AVAILABLE GROUP_MAX_SIZE_REACHED \
FENCED_INSTANCE_ID ELIGIBLE_LEADERS_NOT_AVAILABLE ELECTION_NOT_NEEDED NO_REASSIGNMENT_IN_PROGRESS \
GROUP_SUBSCRIBED_TO_TOPIC INVALID_RECORD UNSTABLE_OFFSET_COMMIT THROTTLING_QUOTA_EXCEEDED PRODUCER_FENCED \
RESOURCE_NOT_FOUND DUPLICATE_RESOURCE UNACCEPTABLE_CREDENTIAL INCONSISTENT_VOTER_SET INVALID_UPDATE_VERSION \
FEATURE_UPDATE_FAILED PRINCIPAL_DESERIALIZATION_FAILURE SNAPSHOT_NOT_FOUND POSITION_OUT_OF_RANGE \
UNKNOWN_TOPIC_ID DUPLICATE_BROKER_REGISTRATION BROKER_ID_NOT_REGISTERED INCONSISTENT_TOPIC_ID \
INCONSISTENT_CLUSTER_ID TRANSACTIONAL_ID_NOT_FOUND FETCH_SESSION_TOPIC_ID_ERROR INELIGIBLE_REPLICA \
NEW_LEADER_ELECTED OFFSET_MOVED_TO_TIERED_STORAGE FENCED_MEMBER_EPOCH UNRELEASED_INSTANCE_ID \
UNSUPPORTED_ASSIGNOR STALE_MEMBER_EPOCH MISMATCHED_ENDPOINT_TYPE UNSUPPORTED_ENDPOINT_TYPE \
UNKNOWN_CONTROLLER_ID UNKNOWN_SUBSCRIPTION_ID TELEMETRY_TOO_LARGE INVALID_REGISTRATION TRANSACTION_ABORTABLE \
INVALID_RECORD_STATE SHARE_SESSION_NOT_FOUND INVALID_SHARE_SESSION_EPOCH FENCED_STATE_EPOCH \
INVALID_VOTER_KEY DUPLICATE_VOTER VOTER_NOT_FOUND INVALID_REGULAR_EXPRESSION REBOOTSTRAP_REQUIRED \
STREAMS_INVALID_TOPOLOGY STREAMS_INVALID_TOPOLOGY_EPOCH STREAMS_TOPOLOGY_FENCED SHARE_SESSION_LIMIT_REACHED \
GROUP_DELETION_FAILED STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED CONTROLLER_ID_NOT_REGISTERED`

type Split<S extends string, Acc extends string[] = []> = S extends `${infer H} ${infer T}`
  ? Split<T, [...Acc, H]>
  : [...Acc, S]
/** A Kafka error name, e.g. `'NOT_LEADER_OR_FOLLOWER'`. */
export type ErrorCodeName = Split<typeof NAMES>[number]

let rows: readonly KafkaErrorBasics[] | null = null

/** Every entry, in code order (-1 first). */
export function errorRows(): readonly KafkaErrorBasics[] {
  return (rows ??= Object.freeze(
    NAMES.split(' ').map((name, i) => Object.freeze({ code: i - 1, name, retriable: RETRIABLE_CODES.includes(i - 1) })),
  ))
}

/** Kafka error name → numeric code, e.g. `ErrorCode.NOT_LEADER_OR_FOLLOWER === 6`. */
export const ErrorCode: { readonly [N in ErrorCodeName]: number } = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ Object.fromEntries(NAMES.split(' ').map((name, i) => [name, i - 1])),
) as { readonly [N in ErrorCodeName]: number }

/**
 * Name and retriable flag for `code`. A code this table does not know (a newer
 * broker, or garbage) gets a synthetic, non-retriable entry named
 * `UNKNOWN_ERROR_CODE_<code>`, so callers never have to handle `undefined`.
 */
export function kafkaErrorBasics(code: number): KafkaErrorBasics {
  return errorRows()[code + 1] ?? { code, name: `UNKNOWN_ERROR_CODE_${code}`, retriable: false }
}

/** A KafkaProtocolError for `code` named from this table (`detail` says where). */
export function kafkaError(
  code: number,
  detail?: string,
  options: { cause?: unknown; text?: string } = {},
): KafkaProtocolError {
  return new KafkaProtocolError(code, detail, { ...options, name: kafkaErrorBasics(code).name })
}
