import { describe, it, expect } from 'vitest'
import { errorRows, ErrorCode, kafkaError, kafkaErrorBasics } from '../../src/protocol/error-codes'
import { KAFKA_ERRORS, brokerError, kafkaErrorInfo } from '../../src/protocol/error-messages'
import { KafkaProtocolError } from '../../src/errors'

describe('Kafka error table', () => {
  it('covers -1 through 136 (no gaps)', () => {
    const codes = KAFKA_ERRORS.map((e) => e.code)
    expect(codes[0]).toBe(-1)
    expect(Math.max(...codes)).toBe(136)
    expect(KAFKA_ERRORS).toHaveLength(138)
    for (let c = -1; c <= 136; c++) expect(codes).toContain(c)
  })

  it('has unique codes and unique names', () => {
    const codes = KAFKA_ERRORS.map((e) => e.code)
    const names = KAFKA_ERRORS.map((e) => e.name)
    expect(new Set(codes).size).toBe(codes.length)
    expect(new Set(names).size).toBe(names.length)
  })

  it('gives every entry an UPPER_SNAKE name and every error a message', () => {
    for (const e of KAFKA_ERRORS) {
      expect(e.name).toMatch(/^[A-Z][A-Z0-9_]*$/)
      if (e.code !== 0) expect(e.message.length).toBeGreaterThan(0)
    }
  })

  it.each([
    [-1, 'UNKNOWN_SERVER_ERROR', false],
    [0, 'NONE', false],
    [2, 'CORRUPT_MESSAGE', true],
    [3, 'UNKNOWN_TOPIC_OR_PARTITION', true],
    [5, 'LEADER_NOT_AVAILABLE', true],
    [6, 'NOT_LEADER_OR_FOLLOWER', true],
    [7, 'REQUEST_TIMED_OUT', true],
    [8, 'BROKER_NOT_AVAILABLE', false],
    [10, 'MESSAGE_TOO_LARGE', false],
    [13, 'NETWORK_EXCEPTION', true],
    [15, 'COORDINATOR_NOT_AVAILABLE', true],
    [19, 'NOT_ENOUGH_REPLICAS', true],
    [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', true],
    [29, 'TOPIC_AUTHORIZATION_FAILED', false],
    [35, 'UNSUPPORTED_VERSION', false],
    [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', false],
    [46, 'DUPLICATE_SEQUENCE_NUMBER', false],
    [47, 'INVALID_PRODUCER_EPOCH', false],
    [51, 'CONCURRENT_TRANSACTIONS', true],
    [56, 'KAFKA_STORAGE_ERROR', true],
    [59, 'UNKNOWN_PRODUCER_ID', false],
    [74, 'FENCED_LEADER_EPOCH', true],
    [87, 'INVALID_RECORD', false],
    [89, 'THROTTLING_QUOTA_EXCEEDED', true],
    [90, 'PRODUCER_FENCED', false],
    [99, 'POSITION_OUT_OF_RANGE', false],
    [100, 'UNKNOWN_TOPIC_ID', true],
    [120, 'TRANSACTION_ABORTABLE', false],
    [129, 'REBOOTSTRAP_REQUIRED', false],
    [133, 'SHARE_SESSION_LIMIT_REACHED', true],
    [136, 'CONTROLLER_ID_NOT_REGISTERED', false],
  ] as const)('code %i is %s, retriable=%s', (code, name, retriable) => {
    const info = kafkaErrorInfo(code)
    expect(info.code).toBe(code)
    expect(info.name).toBe(name)
    expect(info.retriable).toBe(retriable)
    expect(ErrorCode[name]).toBe(code)
  })

  it('keeps Kafka default messages', () => {
    expect(kafkaErrorInfo(7).message).toBe('The request timed out.')
    expect(kafkaErrorInfo(ErrorCode.MESSAGE_TOO_LARGE).message).toBe(
      'The request included a message larger than the max message size the server will accept.',
    )
  })

  it('has exactly these retriable codes', () => {
    expect(KAFKA_ERRORS.filter((e) => e.retriable).map((e) => e.code)).toEqual([
      2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84, 88, 89, 100, 103, 106,
      122, 123, 133,
    ])
  })

  it('maps every ErrorCode entry back to the same table row', () => {
    const entries = Object.entries(ErrorCode)
    expect(entries).toHaveLength(KAFKA_ERRORS.length)
    for (const [name, code] of entries) expect(kafkaErrorInfo(code).name).toBe(name)
  })

  it('gives a synthetic non-retriable entry for unknown codes', () => {
    for (const code of [-2, 137, 999, 32767, -32768]) {
      const info = kafkaErrorInfo(code)
      expect(info.code).toBe(code)
      expect(info.name).toBe(`UNKNOWN_ERROR_CODE_${code}`)
      expect(info.retriable).toBe(false)
      expect(info.message).toContain(String(code))
    }
  })

  it('is frozen', () => {
    expect(Object.isFrozen(KAFKA_ERRORS)).toBe(true)
    expect(Object.isFrozen(ErrorCode)).toBe(true)
    expect(Object.isFrozen(KAFKA_ERRORS[0])).toBe(true)
  })

  it('the names table (error-codes.ts) and the messages (error-messages.ts) cover the same codes', () => {
    expect(errorRows().map((r) => r.code)).toEqual(KAFKA_ERRORS.map((e) => e.code))
    for (const e of KAFKA_ERRORS)
      expect(kafkaErrorBasics(e.code)).toEqual({ code: e.code, name: e.name, retriable: e.retriable })
  })

  it("brokerError carries Kafka's message; a bare KafkaProtocolError (gateway path) its name", () => {
    const withText = brokerError(6, 'events-3')
    expect(withText).toBeInstanceOf(KafkaProtocolError)
    expect(withText).toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER', errorCode: 6, retriable: true })
    expect(withText.message).toBe(`${kafkaErrorInfo(6).message} (events-3)`)
    // a gateway sends the name along; the client keeps no table of names (browser bundles), only Kafka's retriable codes
    const named = new KafkaProtocolError(6, 'events-3: from the gateway', { name: 'NOT_LEADER_OR_FOLLOWER' })
    expect(named).toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER', errorCode: 6, retriable: true })
    expect(named.message).toBe('NOT_LEADER_OR_FOLLOWER (events-3: from the gateway)')
    expect(new KafkaProtocolError(6)).toMatchObject({ code: 'KAFKA_ERROR_6', errorCode: 6, retriable: true })
    expect(new KafkaProtocolError(29)).toMatchObject({ code: 'TOPIC_AUTHORIZATION_FAILED', retriable: false })
    // a name from the wire that is not shaped like Kafka's never becomes the code (a hostile or broken gateway)
    for (const bad of [{} as unknown as string, 42 as unknown as string, '', 'lower_case', 'X'.repeat(65), 'A B'])
      expect(new KafkaProtocolError(29, 'x', { name: bad }).code).toBe('TOPIC_AUTHORIZATION_FAILED')
    expect(new KafkaProtocolError(6, 'x', { name: { toString: () => 'NOPE' } as unknown as string }).code).toBe(
      'KAFKA_ERROR_6',
    )
    expect(kafkaError(6, 'x')).toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER', errorCode: 6, retriable: true })
    for (const e of KAFKA_ERRORS) expect(new KafkaProtocolError(e.code).retriable).toBe(e.retriable)
    expect(brokerError(999).message).toContain('999')
  })
})
