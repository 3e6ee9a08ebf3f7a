import NIOConcurrencyHelpers

/// What `/readyz` answers: ready once every named condition is met.
///
/// Conditions are named so that a 503 says what is still missing, e.g.
/// ```swift
/// let readiness = Readiness(pending: [
///     "watch": "initial watch not established yet",
///     "child": "child process not started yet",
/// ])
/// readiness.markReady("watch")
/// readiness.markNotReady("child", reason: "child exited with status 1")
/// ```
/// With no conditions it is ready from the start (`/readyz` then only says the endpoint is up).
public final class Readiness: Sendable {
    private struct Condition {
        var name: String
        var pendingReason: String?
    }

    // An array rather than a dictionary so that reasons come out in the order they were declared.
    private let conditions: NIOLockedValueBox<[Condition]>

    /// Declares the conditions, each not yet met, with the reason shown while it is not.
    public init(pending: KeyValuePairs<String, String> = [:]) {
        conditions = NIOLockedValueBox(pending.map { Condition(name: $0.key, pendingReason: $0.value) })
    }

    /// Marks `condition` as met, adding it if it was not declared.
    public func markReady(_ condition: String) {
        update(condition, pendingReason: nil)
    }

    /// Marks `condition` as not met (again), with the reason `/readyz` reports.
    public func markNotReady(_ condition: String, reason: String) {
        update(condition, pendingReason: reason)
    }

    /// True when every condition is met.
    public var isReady: Bool {
        conditions.withLockedValue { $0.allSatisfy { $0.pendingReason == nil } }
    }

    /// The reasons of the unmet conditions, in declaration order; empty when ready.
    public var pendingReasons: [String] {
        conditions.withLockedValue { $0.compactMap(\.pendingReason) }
    }

    private func update(_ name: String, pendingReason: String?) {
        conditions.withLockedValue { list in
            if let index = list.firstIndex(where: { $0.name == name }) {
                list[index].pendingReason = pendingReason
            } else {
                list.append(Condition(name: name, pendingReason: pendingReason))
            }
        }
    }
}
