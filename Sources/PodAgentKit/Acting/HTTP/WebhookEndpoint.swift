import NIOCore
import NIOSSL

/// Where a webhook connection goes, and whom it trusts there: the key of a kept-alive connection.
///
/// Trust is part of the key on purpose: a connection verified against one pinned CA is never reused for a
/// request that pins another (or trusts the system store).
struct WebhookEndpoint: Hashable, Sendable {
    var host: String
    var port: Int
    /// nil for plain http.
    var trust: WebhookTrust?

    init(_ url: WebhookURL, trust: WebhookTrust?) {
        host = url.host
        port = url.port
        self.trust = url.isTLS ? (trust ?? .systemStore) : nil
    }

    /// `127.0.0.1:8080`, `[::1]:443`: for messages.
    var display: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The address to connect to without asking DNS, when the host is an IPv4 or IPv6 literal.
    var literalAddress: SocketAddress? { try? SocketAddress(ipAddress: host, port: port) }
}

/// Which certificates an https webhook accepts. Verification is always on; there is no third case.
enum WebhookTrust: Hashable, Sendable {
    /// The system trust store (Debian: `/etc/ssl/certs`).
    case systemStore
    /// Only certificates signed by these CAs (read from `caFile` at start-up): the system store is not consulted.
    case pinned(caFile: String, certificates: [NIOSSLCertificate])

    static func == (lhs: WebhookTrust, rhs: WebhookTrust) -> Bool { lhs.caFile == rhs.caFile }
    func hash(into hasher: inout Hasher) { hasher.combine(caFile) }

    var caFile: String? {
        if case .pinned(let caFile, _) = self { return caFile }
        return nil
    }

    /// The client TLS context: full verification (chain and host name), TLS 1.2 or newer.
    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if case .pinned(_, let certificates) = self {
            configuration.trustRoots = .certificates(certificates)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
