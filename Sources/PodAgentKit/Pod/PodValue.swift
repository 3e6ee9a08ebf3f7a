/// One value of the pod's data tree: what `podagent env --format json` prints and what templates see.
///
/// Strings keep their exact bytes, because label and annotation values can hold any bytes (the
/// kubelet writes them with Go's `%q`); each output decides what to do with invalid UTF-8 (JSON
/// replaces it with U+FFFD and warns, dotenv and shell keep it). Objects keep their member order,
/// so output is deterministic.
public enum PodValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case string([UInt8])
    case list([PodValue])
    case object([Member])

    /// A named member of an object, in the order it is printed.
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: PodValue

        public init(_ key: String, _ value: PodValue) {
            self.key = key
            self.value = value
        }
    }

    /// A string value from Swift text.
    public static func text(_ string: String) -> PodValue {
        .string(Array(string.utf8))
    }

    /// The member named `key` of an object, or nil (also for values that are not objects).
    public subscript(key: String) -> PodValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }
}
