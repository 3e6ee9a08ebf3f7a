/// Who the pod is: the downward API's env-only and scalar fields, as the pod spec maps them to
/// the conventional env var names.
///
/// | field | env var | pod spec `fieldRef.fieldPath` |
/// |---|---|---|
/// | `name` | `POD_NAME` | `metadata.name` |
/// | `namespace` | `POD_NAMESPACE` (fallback: the service account's `namespace` file) | `metadata.namespace` |
/// | `uid` | `POD_UID` | `metadata.uid` |
/// | `ip` | `POD_IP` | `status.podIP` |
/// | `ips` | `POD_IPS`, comma-separated | `status.podIPs` |
/// | `node` | `NODE_NAME` | `spec.nodeName` |
/// | `hostIP` | `HOST_IP` | `status.hostIP` |
/// | `serviceAccount` | `SERVICE_ACCOUNT` | `spec.serviceAccountName` |
///
/// An unset or empty variable gives nil: the kubelet writes these fields as empty only when it
/// does not know them, and nothing is derived (`ips` is not made up from `POD_IP`).
public struct PodIdentity: Sendable, Hashable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var ip: String?
    public var ips: [String]?
    public var node: String?
    public var hostIP: String?
    public var serviceAccount: String?
    /// Where `namespace` came from; nil when it is unknown.
    public var namespaceSource: NamespaceSource?

    /// Where the namespace was found.
    public enum NamespaceSource: Sendable, Hashable {
        /// The `POD_NAMESPACE` env var.
        case environment
        /// The service account's `namespace` file, at this path (as opened).
        case serviceAccountFile(String)
    }

    public init(
        name: String? = nil, namespace: String? = nil, uid: String? = nil, ip: String? = nil, ips: [String]? = nil,
        node: String? = nil, hostIP: String? = nil, serviceAccount: String? = nil, namespaceSource: NamespaceSource? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.ip = ip
        self.ips = ips
        self.node = node
        self.hostIP = hostIP
        self.serviceAccount = serviceAccount
        self.namespaceSource = namespaceSource
    }

    /// Reads the identity env vars, and the service account's `namespace` file when
    /// `POD_NAMESPACE` is not set (a service account token is mounted in most pods, while
    /// `POD_NAMESPACE` needs an explicit env entry).
    ///
    /// Kubernetes validates all of these as ASCII (DNS names, UIDs, IPs). A value that is not
    /// UTF-8 was set by hand; it is decoded with U+FFFD and a warning is added.
    public static func load(
        environment: [String: [UInt8]], paths: PodPaths, warnings: inout [String]
    ) throws(PodViewError) -> PodIdentity {
        func variable(_ name: String) -> String? {
            guard let bytes = environment[name], !bytes.isEmpty else { return nil }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                warnings.append("env \(name) is not valid UTF-8 (\(GoQuote.quote(bytes))); invalid bytes are shown as U+FFFD")
                return String(decoding: bytes, as: UTF8.self)
            }
            return text
        }
        var identity = PodIdentity(
            name: variable("POD_NAME"), uid: variable("POD_UID"), ip: variable("POD_IP"),
            ips: variable("POD_IPS").map { $0.split(separator: ",").map { String($0) } },
            node: variable("NODE_NAME"), hostIP: variable("HOST_IP"), serviceAccount: variable("SERVICE_ACCOUNT"))
        if let namespace = variable("POD_NAMESPACE") {
            identity.namespace = namespace
            identity.namespaceSource = .environment
        } else {
            let path = paths.serviceAccountNamespacePath
            // The kubelet writes the namespace without a newline; a hand-made file may have one.
            if let bytes = try readPodFileIfPresent(path) {
                var trimmed = bytes[...]
                while let last = trimmed.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") || last == UInt8(ascii: " ") {
                    trimmed.removeLast()
                }
                if !trimmed.isEmpty {
                    identity.namespace = String(decoding: trimmed, as: UTF8.self)
                    identity.namespaceSource = .serviceAccountFile(path)
                }
            }
        }
        return identity
    }
}
