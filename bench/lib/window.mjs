// A sliding window of unsettled promises, as application code keeps one: at most `size` outstanding; once full, the
// caller waits until a quarter of it is free again. Shared by bench/api-shapes.mjs (send() windows) and
// bench/promise-floor.mjs (the same window with no Kafka client), so both measure the same shape.
export function slidingWindow(size) {
  let outstanding = 0
  let resume = null
  return {
    get outstanding() {
      return outstanding
    },
    /** One more promise in the window. */
    add() {
      outstanding++
    },
    /** A promise settled (a `.then` handler: no closure per promise). */
    settle: () => {
      outstanding--
      if (resume && outstanding < size * 0.75) {
        const r = resume
        resume = null
        r()
      }
    },
    /** At most `size` outstanding: the caller should wait for room(). */
    full: () => outstanding >= size,
    /** Resolves once a quarter of the (full) window is free again. */
    room: () => new Promise((r) => (resume = r)),
  }
}
