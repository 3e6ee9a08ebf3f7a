// `podagent env --format dotenv|shell`: which environment variables the pod data becomes.

/// One environment variable made from the pod data: its name, its exact value bytes and where the
/// value came from (for warnings and errors).
public struct EnvVariable: Sendable, Equatable {
    public var name: String
    /// The value's bytes as read (labels and annotations can hold any bytes, including invalid UTF-8).
    public var value: [UInt8]
    public var origin: Origin

    public init(name: String, value: [UInt8], origin: Origin) {
        self.name = name
        self.value = value
        self.origin = origin
    }

    /// Where a variable's value is in the pod data tree.
    public enum Origin: Sendable, Equatable, Hashable, CustomStringConvertible {
        /// A fixed field, by its path in the tree (`pod.name`, `resources.limits.memoryBytes`, `cpus`).
        case field(String)
        /// The label with this key.
        case label(String)
        /// The annotation with this key.
        case annotation(String)

        /// The original key as a user wrote it in the manifest, e.g. `label "app.kubernetes.io/name"`.
        public var description: String {
            switch self {
            case .field(let path): return "field \(path)"
            case .label(let key): return "label \(quoted(key))"
            case .annotation(let key): return "annotation \(quoted(key))"
            }
        }

        private func quoted(_ key: String) -> String {
            var bytes: [UInt8] = []
            JSONWriter.appendQuoted(Array(key.utf8), to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// Two pod data keys that sanitise to the same variable name; only ``kept`` is exported.
///
/// A structured warning: the CLI prints ``description``; tests and tools read the fields.
public struct EnvNameCollision: Sendable, Equatable, CustomStringConvertible {
    /// The variable name both keys map to, e.g. `POD_LABEL_A_B`.
    public var name: String
    /// The key whose value the variable gets: the first in byte order.
    public var kept: EnvVariable.Origin
    /// The key left out.
    public var dropped: EnvVariable.Origin

    public init(name: String, kept: EnvVariable.Origin, dropped: EnvVariable.Origin) {
        self.name = name
        self.kept = kept
        self.dropped = dropped
    }

    public var description: String {
        "\(kept) and \(dropped) both become the variable \(name); it gets the value of \(kept) "
            + "(first in byte order) and \(dropped) is left out — rename one of the keys, "
            + "or read both from `podagent env --format json`"
    }
}

/// The prefix given for variable names cannot start a shell variable name.
public struct EnvPrefixError: Error, Sendable, Equatable, CustomStringConvertible {
    public var prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    public var description: String {
        "the variable name prefix \"\(prefix)\" cannot be used: a prefix may contain only ASCII letters, "
            + "digits and '_', and must not start with a digit (e.g. --prefix APP_, or --prefix '' for none)"
    }
}

/// The environment variables `podagent env` exports for the pod data tree (``PodValue``, as built by
/// `PodView`), in a fixed order, with the name collisions found on the way.
///
/// The tree is read at these paths; a value that is `null`, absent, or not a scalar is left out, never
/// invented. With the default prefix `POD_`:
///
/// | variable | from |
/// |---|---|
/// | `POD_NAME`, `POD_NAMESPACE`, `POD_UID`, `POD_IP` | `pod.name`, `pod.namespace`, `pod.uid`, `pod.ip` |
/// | `POD_IPS` | `pod.ips`, joined with `,` (no spaces, like the kubelet's `status.podIPs`); left out when empty |
/// | `POD_NODE_NAME`, `POD_HOST_IP`, `POD_SERVICE_ACCOUNT` | `pod.node`, `pod.hostIP`, `pod.serviceAccount` |
/// | `POD_CPU_REQUEST_MILLICORES`, `POD_CPU_LIMIT_MILLICORES` | `resources.requests/limits.cpuMillicores` |
/// | `POD_MEMORY_REQUEST_BYTES`, `POD_MEMORY_LIMIT_BYTES` | `resources.requests/limits.memoryBytes` |
/// | `POD_EPHEMERAL_STORAGE_REQUEST_BYTES`, `…_LIMIT_BYTES` | `resources.requests/limits.ephemeralStorageBytes` |
/// | `POD_CGROUP_CPU_MILLICORES`, `POD_CGROUP_MEMORY_BYTES` | `cgroup.cpuMillicores`, `cgroup.memoryBytes` |
/// | `POD_CPUS` | `cpus` |
/// | `POD_LABEL_<KEY>` | each label, in byte order of its key |
/// | `POD_ANNOTATION_<KEY>` | each annotation, in byte order of its key |
///
/// Integers are written in decimal, booleans as `true`/`false`, strings as their exact bytes.
///
/// **Key sanitising** (`<KEY>`): every byte of the label or annotation key is mapped on its own —
/// ASCII letters are uppercased, ASCII digits are kept, and every other byte (`.`, `-`, `/`, `_`
/// itself, and each byte of a non-ASCII character) becomes `_`. Runs are not collapsed, and leading
/// or trailing `_` are not trimmed: `app.kubernetes.io/name` → `POD_LABEL_APP_KUBERNETES_IO_NAME`,
/// `a--b` → `POD_LABEL_A__B`. Not collapsing keeps the mapping one byte to one character, easy to
/// predict from the key, and it collides less: with collapsing, `a-b`, `a--b` and `a._b` would all
/// be `A_B`. The result is always a valid POSIX name because the fixed part comes first.
///
/// **Collisions**: keys that differ only in case or in the bytes that become `_` (`a.b` and `a-b`, `App`
/// and `app`) give one name. Of those, the key first in byte order (`A` < `a`, `-` < `.` < `_`) gives the
/// value, the same on every run whatever order the input had, and each other key is reported as an
/// ``EnvNameCollision`` naming both keys. Labels and annotations cannot take a fixed variable's name
/// (their names always contain `LABEL_` or `ANNOTATION_`); should a name still repeat, the variable
/// listed first in the table wins.
///
/// ```swift
/// let env = try EnvVariables(pod: tree, prefix: "APP_")
/// env.variables.map(\.name)   // ["APP_NAME", "APP_NAMESPACE", …, "APP_LABEL_APP_KUBERNETES_IO_NAME"]
/// env.collisions              // [] unless two keys sanitise to one name
/// ```
public struct EnvVariables: Sendable, Equatable {
    /// The variables in output order: identity, resources, cgroup, CPU count, labels, annotations.
    public var variables: [EnvVariable]
    /// The keys that lost their variable to another key, in output order.
    public var collisions: [EnvNameCollision]

    /// The default name prefix, as for `podagent env` without `--prefix`.
    public static let defaultPrefix = "POD_"

    /// - Parameter prefix: replaces `POD_` in every name; empty for no prefix. It must be empty or
    ///   start like a shell variable name (ASCII letter or `_`, then letters, digits, `_`).
    public init(pod: PodValue, prefix: String = EnvVariables.defaultPrefix) throws(EnvPrefixError) {
        guard EnvVariables.isUsablePrefix(prefix) else { throw EnvPrefixError(prefix: prefix) }
        var candidates: [EnvVariable] = []
        for field in EnvVariables.fixedFields {
            guard let value = pod.value(at: field.path), let bytes = EnvVariables.valueBytes(value) else { continue }
            candidates.append(EnvVariable(name: prefix + field.name, value: bytes,
                                          origin: .field(field.path.joined(separator: "."))))
        }
        for (section, infix, origin) in [("labels", "LABEL_", EnvVariable.Origin.label),
                                         ("annotations", "ANNOTATION_", EnvVariable.Origin.annotation)] {
            guard case .object(let members)? = pod[section] else { continue }
            // Byte order of the key (not Swift's String order) decides which colliding key wins.
            let sorted = members.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            for member in sorted {
                guard let bytes = EnvVariables.valueBytes(member.value) else { continue }
                candidates.append(EnvVariable(name: prefix + infix + EnvVariables.sanitizedKey(member.key),
                                              value: bytes, origin: origin(member.key)))
            }
        }

        var winners: [String: EnvVariable.Origin] = [:]
        variables = []
        collisions = []
        for candidate in candidates {
            if let kept = winners[candidate.name] {
                collisions.append(EnvNameCollision(name: candidate.name, kept: kept, dropped: candidate.origin))
            } else {
                winners[candidate.name] = candidate.origin
                variables.append(candidate)
            }
        }
    }

    /// The `<KEY>` part of a label or annotation variable name; see the type's documentation.
    public static func sanitizedKey(_ key: String) -> String {
        String(decoding: key.utf8.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - 0x20
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return byte
            default: return UInt8(ascii: "_")
            }
        }, as: UTF8.self)
    }

    /// The fixed variables, in output order, by name suffix and path in the tree.
    static let fixedFields: [(name: String, path: [String])] = [
        ("NAME", ["pod", "name"]),
        ("NAMESPACE", ["pod", "namespace"]),
        ("UID", ["pod", "uid"]),
        ("IP", ["pod", "ip"]),
        ("IPS", ["pod", "ips"]),
        ("NODE_NAME", ["pod", "node"]),
        ("HOST_IP", ["pod", "hostIP"]),
        ("SERVICE_ACCOUNT", ["pod", "serviceAccount"]),
        ("CPU_REQUEST_MILLICORES", ["resources", "requests", "cpuMillicores"]),
        ("CPU_LIMIT_MILLICORES", ["resources", "limits", "cpuMillicores"]),
        ("MEMORY_REQUEST_BYTES", ["resources", "requests", "memoryBytes"]),
        ("MEMORY_LIMIT_BYTES", ["resources", "limits", "memoryBytes"]),
        ("EPHEMERAL_STORAGE_REQUEST_BYTES", ["resources", "requests", "ephemeralStorageBytes"]),
        ("EPHEMERAL_STORAGE_LIMIT_BYTES", ["resources", "limits", "ephemeralStorageBytes"]),
        ("CGROUP_CPU_MILLICORES", ["cgroup", "cpuMillicores"]),
        ("CGROUP_MEMORY_BYTES", ["cgroup", "memoryBytes"]),
        ("CPUS", ["cpus"]),
    ]

    private static func isUsablePrefix(_ prefix: String) -> Bool {
        // The rule for a name a shell can export is the rule for a key jq takes after a dot.
        prefix.isEmpty || JSONPath.isPlainIdentifier(prefix)
    }

    /// A scalar's bytes; a list of scalars joined with `,`; nil for null, objects and empty lists.
    private static func valueBytes(_ value: PodValue) -> [UInt8]? {
        switch value {
        case .null, .object:
            return nil
        case .bool(let flag):
            return Array((flag ? "true" : "false").utf8)
        case .integer(let number):
            return Array(String(number).utf8)
        case .string(let bytes):
            return bytes
        case .list(let elements):
            let parts = elements.compactMap { element -> [UInt8]? in
                if case .list = element { return nil }
                return valueBytes(element)
            }
            guard !parts.isEmpty else { return nil }
            return Array(parts.joined(separator: [UInt8(ascii: ",")]))
        }
    }
}

extension PodValue {
    /// The value at a path of member names, or nil when any step is missing or not an object.
    fileprivate func value(at path: [String]) -> PodValue? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }
}
