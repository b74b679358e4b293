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

/** Name and retriable flag of a Kafka error code. */
export interface KafkaErrorBasics {
  /** The int16 error code on the wire. */
  code: number;
  /** Kafka's `Errors` enum name, e.g. `NOT_LEADER_OR_FOLLOWER`. */
  name: string;
  /** Whether Kafka's exception for this code is a `RetriableException`. */
  retriable: boolean;
}

const R = true;
const N = false;

// [code, name, retriable], in Kafka's enum order.
export const ERROR_ROWS = [
  [-1, 'UNKNOWN_SERVER_ERROR', N],
  [0, 'NONE', N],
  [1, 'OFFSET_OUT_OF_RANGE', N],
  [2, 'CORRUPT_MESSAGE', R],
  [3, 'UNKNOWN_TOPIC_OR_PARTITION', R],
  [4, 'INVALID_FETCH_SIZE', N],
  [5, 'LEADER_NOT_AVAILABLE', R],
  [6, 'NOT_LEADER_OR_FOLLOWER', R],
  [7, 'REQUEST_TIMED_OUT', R],
  [8, 'BROKER_NOT_AVAILABLE', N],
  [9, 'REPLICA_NOT_AVAILABLE', R],
  [10, 'MESSAGE_TOO_LARGE', N],
  [11, 'STALE_CONTROLLER_EPOCH', N],
  [12, 'OFFSET_METADATA_TOO_LARGE', N],
  [13, 'NETWORK_EXCEPTION', R],
  [14, 'COORDINATOR_LOAD_IN_PROGRESS', R],
  [15, 'COORDINATOR_NOT_AVAILABLE', R],
  [16, 'NOT_COORDINATOR', R],
  [17, 'INVALID_TOPIC_EXCEPTION', N],
  [18, 'RECORD_LIST_TOO_LARGE', N],
  [19, 'NOT_ENOUGH_REPLICAS', R],
  [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', R],
  [21, 'INVALID_REQUIRED_ACKS', N],
  [22, 'ILLEGAL_GENERATION', N],
  [23, 'INCONSISTENT_GROUP_PROTOCOL', N],
  [24, 'INVALID_GROUP_ID', N],
  [25, 'UNKNOWN_MEMBER_ID', N],
  [26, 'INVALID_SESSION_TIMEOUT', N],
  [27, 'REBALANCE_IN_PROGRESS', N],
  [28, 'INVALID_COMMIT_OFFSET_SIZE', N],
  [29, 'TOPIC_AUTHORIZATION_FAILED', N],
  [30, 'GROUP_AUTHORIZATION_FAILED', N],
  [31, 'CLUSTER_AUTHORIZATION_FAILED', N],
  [32, 'INVALID_TIMESTAMP', N],
  [33, 'UNSUPPORTED_SASL_MECHANISM', N],
  [34, 'ILLEGAL_SASL_STATE', N],
  [35, 'UNSUPPORTED_VERSION', N],
  [36, 'TOPIC_ALREADY_EXISTS', N],
  [37, 'INVALID_PARTITIONS', N],
  [38, 'INVALID_REPLICATION_FACTOR', N],
  [39, 'INVALID_REPLICA_ASSIGNMENT', N],
  [40, 'INVALID_CONFIG', N],
  [41, 'NOT_CONTROLLER', R],
  [42, 'INVALID_REQUEST', N],
  [43, 'UNSUPPORTED_FOR_MESSAGE_FORMAT', N],
  [44, 'POLICY_VIOLATION', N],
  [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', N],
  [46, 'DUPLICATE_SEQUENCE_NUMBER', N],
  [47, 'INVALID_PRODUCER_EPOCH', N],
  [48, 'INVALID_TXN_STATE', N],
  [49, 'INVALID_PRODUCER_ID_MAPPING', N],
  [50, 'INVALID_TRANSACTION_TIMEOUT', N],
  [51, 'CONCURRENT_TRANSACTIONS', R],
  [52, 'TRANSACTION_COORDINATOR_FENCED', N],
  [53, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', N],
  [54, 'SECURITY_DISABLED', N],
  [55, 'OPERATION_NOT_ATTEMPTED', N],
  [56, 'KAFKA_STORAGE_ERROR', R],
  [57, 'LOG_DIR_NOT_FOUND', N],
  [58, 'SASL_AUTHENTICATION_FAILED', N],
  [59, 'UNKNOWN_PRODUCER_ID', N],
  [60, 'REASSIGNMENT_IN_PROGRESS', N],
  [61, 'DELEGATION_TOKEN_AUTH_DISABLED', N],
  [62, 'DELEGATION_TOKEN_NOT_FOUND', N],
  [63, 'DELEGATION_TOKEN_OWNER_MISMATCH', N],
  [64, 'DELEGATION_TOKEN_REQUEST_NOT_ALLOWED', N],
  [65, 'DELEGATION_TOKEN_AUTHORIZATION_FAILED', N],
  [66, 'DELEGATION_TOKEN_EXPIRED', N],
  [67, 'INVALID_PRINCIPAL_TYPE', N],
  [68, 'NON_EMPTY_GROUP', N],
  [69, 'GROUP_ID_NOT_FOUND', N],
  [70, 'FETCH_SESSION_ID_NOT_FOUND', R],
  [71, 'INVALID_FETCH_SESSION_EPOCH', R],
  [72, 'LISTENER_NOT_FOUND', R],
  [73, 'TOPIC_DELETION_DISABLED', N],
  [74, 'FENCED_LEADER_EPOCH', R],
  [75, 'UNKNOWN_LEADER_EPOCH', R],
  [76, 'UNSUPPORTED_COMPRESSION_TYPE', N],
  [77, 'STALE_BROKER_EPOCH', N],
  [78, 'OFFSET_NOT_AVAILABLE', R],
  [79, 'MEMBER_ID_REQUIRED', N],
  [80, 'PREFERRED_LEADER_NOT_AVAILABLE', R],
  [81, 'GROUP_MAX_SIZE_REACHED', N],
  [82, 'FENCED_INSTANCE_ID', N],
  [83, 'ELIGIBLE_LEADERS_NOT_AVAILABLE', R],
  [84, 'ELECTION_NOT_NEEDED', R],
  [85, 'NO_REASSIGNMENT_IN_PROGRESS', N],
  [86, 'GROUP_SUBSCRIBED_TO_TOPIC', N],
  [87, 'INVALID_RECORD', N],
  [88, 'UNSTABLE_OFFSET_COMMIT', R],
  [89, 'THROTTLING_QUOTA_EXCEEDED', R],
  [90, 'PRODUCER_FENCED', N],
  [91, 'RESOURCE_NOT_FOUND', N],
  [92, 'DUPLICATE_RESOURCE', N],
  [93, 'UNACCEPTABLE_CREDENTIAL', N],
  [94, 'INCONSISTENT_VOTER_SET', N],
  [95, 'INVALID_UPDATE_VERSION', N],
  [96, 'FEATURE_UPDATE_FAILED', N],
  [97, 'PRINCIPAL_DESERIALIZATION_FAILURE', N],
  [98, 'SNAPSHOT_NOT_FOUND', N],
  [99, 'POSITION_OUT_OF_RANGE', N],
  [100, 'UNKNOWN_TOPIC_ID', R],
  [101, 'DUPLICATE_BROKER_REGISTRATION', N],
  [102, 'BROKER_ID_NOT_REGISTERED', N],
  [103, 'INCONSISTENT_TOPIC_ID', R],
  [104, 'INCONSISTENT_CLUSTER_ID', N],
  [105, 'TRANSACTIONAL_ID_NOT_FOUND', N],
  [106, 'FETCH_SESSION_TOPIC_ID_ERROR', R],
  [107, 'INELIGIBLE_REPLICA', N],
  [108, 'NEW_LEADER_ELECTED', N],
  [109, 'OFFSET_MOVED_TO_TIERED_STORAGE', N],
  [110, 'FENCED_MEMBER_EPOCH', N],
  [111, 'UNRELEASED_INSTANCE_ID', N],
  [112, 'UNSUPPORTED_ASSIGNOR', N],
  [113, 'STALE_MEMBER_EPOCH', N],
  [114, 'MISMATCHED_ENDPOINT_TYPE', N],
  [115, 'UNSUPPORTED_ENDPOINT_TYPE', N],
  [116, 'UNKNOWN_CONTROLLER_ID', N],
  [117, 'UNKNOWN_SUBSCRIPTION_ID', N],
  [118, 'TELEMETRY_TOO_LARGE', N],
  [119, 'INVALID_REGISTRATION', N],
  [120, 'TRANSACTION_ABORTABLE', N],
  [121, 'INVALID_RECORD_STATE', N],
  [122, 'SHARE_SESSION_NOT_FOUND', R],
  [123, 'INVALID_SHARE_SESSION_EPOCH', R],
  [124, 'FENCED_STATE_EPOCH', N],
  [125, 'INVALID_VOTER_KEY', N],
  [126, 'DUPLICATE_VOTER', N],
  [127, 'VOTER_NOT_FOUND', N],
  [128, 'INVALID_REGULAR_EXPRESSION', N],
  [129, 'REBOOTSTRAP_REQUIRED', N],
  [130, 'STREAMS_INVALID_TOPOLOGY', N],
  [131, 'STREAMS_INVALID_TOPOLOGY_EPOCH', N],
  [132, 'STREAMS_TOPOLOGY_FENCED', N],
  [133, 'SHARE_SESSION_LIMIT_REACHED', R],
  [134, 'GROUP_DELETION_FAILED', N],
  [135, 'STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED', N],
  [136, 'CONTROLLER_ID_NOT_REGISTERED', N],
] as const;

type Row = (typeof ERROR_ROWS)[number];

/** Kafka error name → numeric code, e.g. `ErrorCode.NOT_LEADER_OR_FOLLOWER === 6`. */
export const ErrorCode: { readonly [E in Row as E[1]]: E[0] } = Object.freeze(
  Object.fromEntries(ERROR_ROWS.map((row) => [row[1], row[0]])),
) as { readonly [E in Row as E[1]]: E[0] };

export type ErrorCodeName = keyof typeof ErrorCode;

const BY_CODE = new Map<number, KafkaErrorBasics>(
  ERROR_ROWS.map(([code, name, retriable]) => [code, Object.freeze({ code, name, retriable })]),
);

/**
 * Name and retriable flag for `code`. A code this table does not know (a newer
 * broker, or garbage) gets a synthetic, non-retriable entry named
 * `UNKNOWN_ERROR_CODE_<code>`, so callers never have to handle `undefined`.
 */
export function kafkaErrorBasics(code: number): KafkaErrorBasics {
  return BY_CODE.get(code) ?? { code, name: `UNKNOWN_ERROR_CODE_${code}`, retriable: false };
}
