/// The "who am I" sections of `podagent inspect`: identity, labels and annotations (from ``PodView``),
/// and the environment with secret-looking values withheld.
public enum IdentityInspection {
    /// Key `identity`: the pod's identity as `podagent env --format json` has it, plus where the
    /// namespace came from.
    public static func identity(_ view: PodView) -> InspectSection {
        let id = view.identity
        func row(_ label: String, _ value: String?) -> InspectSection.Row {
            InspectSection.Row(label, value ?? "(unknown)")
        }
        var warnings: [String] = []
        if id.name == nil {
            warnings.append("POD_NAME is not set: add an env var with valueFrom.fieldRef.fieldPath: metadata.name to the container")
        }
        if id.namespace == nil {
            warnings.append("the namespace is unknown: neither POD_NAMESPACE nor the service-account namespace file is there")
        }
        let namespaceSource: String?
        switch id.namespaceSource {
        case .environment: namespaceSource = "env POD_NAMESPACE"
        case .serviceAccountFile(let path): namespaceSource = path
        case nil: namespaceSource = nil
        }
        guard case .object(let members) = view.value, let pod = members.first(where: { $0.key == "pod" })?.value,
            case .object(var podMembers) = pod
        else { return InspectSection(key: "identity", title: "Identity", value: .null) }
        podMembers.append(.init("namespaceSource", namespaceSource.map(PodValue.text) ?? .null))
        return InspectSection(
            key: "identity", title: "Identity",
            rows: [
                row("name", id.name), row("namespace", id.namespace.map { ns in namespaceSource.map { "\(ns)  (from \($0))" } ?? ns }),
                row("uid", id.uid), row("pod IP", id.ips?.joined(separator: ", ") ?? id.ip), row("node", id.node),
                row("host IP", id.hostIP), row("service account", id.serviceAccount),
            ],
            warnings: warnings, value: .object(podMembers))
    }

    /// Key `labels` or `annotations`: every entry, values shown on one line.
    public static func metadata(_ metadata: PodMetadata?, kind: MetadataKind, path: String) -> InspectSection {
        let title = kind == .labels ? "Labels" : "Annotations"
        guard let metadata else {
            return InspectSection(
                key: kind.rawValue, title: title, rows: [.init("(no file)", path)],
                warnings: [], value: .null)
        }
        let rows = metadata.entries.map { InspectSection.Row($0.key, String(decoding: $0.value, as: UTF8.self)) }
        let value = PodValue.object(metadata.entries.map { .init($0.key, .string($0.value)) })
        return InspectSection(key: kind.rawValue, title: title + " (\(path))",
                              rows: rows.isEmpty ? [.init("(none)", "")] : rows, value: value)
    }

    /// Key `environment`: every env var of this process by name; the value only when the name does not
    /// look secret (``SecretNames``), else its size.
    public static func environment(_ environment: [String: [UInt8]]) -> InspectSection {
        var rows: [InspectSection.Row] = []
        var members: [PodValue.Member] = []
        for name in environment.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let value = environment[name]!
            if SecretNames.looksSecret(name) {
                rows.append(.init(name, "(withheld: name looks secret, \(value.count) bytes)"))
                members.append(.init(name, .object([.init("withheld", .bool(true)), .init("bytes", .integer(Int64(value.count)))])))
            } else {
                rows.append(.init(name, String(decoding: value, as: UTF8.self)))
                members.append(.init(name, .string(value)))
            }
        }
        return InspectSection(key: "environment", title: "Environment", rows: rows, value: .object(members))
    }
}

/// Env var names whose values podagent never prints: any name containing PASSWORD, PASSWD, PASS, TOKEN,
/// SECRET, KEY, CREDENTIAL, PRIVATE or AUTH, in any case. Over-matching (`KEYBOARD_LAYOUT`) costs a
/// hidden harmless value; under-matching would print a secret.
public enum SecretNames {
    public static let markers = ["PASSWORD", "PASSWD", "PASS", "TOKEN", "SECRET", "KEY", "CREDENTIAL", "PRIVATE", "AUTH"]

    public static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return markers.contains { upper.contains($0) }
    }
}
