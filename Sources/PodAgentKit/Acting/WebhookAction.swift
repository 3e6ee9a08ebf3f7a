import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `--webhook` reload action: one HTTP(S) request per reload, successful when the answer's status is
/// one of the expected ones.
///
/// - Redirects are not followed: a 3xx is an unexpected status (unless expected), because following one
///   would send the configured headers — often a token — to wherever the receiver points.
/// - TLS is always verified: against the system trust store, or, with `caFile`, against that CA alone
///   (pinned: the system store is then not consulted). There is no switch to turn verification off.
/// - Header values are never shown — not in ``summary``, errors or logs — as they often hold tokens;
///   URLs are shown without user info and query.
/// - Each request carries `Podagent-Trigger: <sequence>`, so a receiver can tell reloads apart.
/// - Connection failures are not retried inside the HTTP client: the pipeline's backoff does that, and a
///   refused connection is reported at once, naming the URL.
public struct WebhookAction: Sendable {
    /// The URL as given (may hold secrets in its query; use ``displayURL`` for anything shown).
    public let url: String
    public let method: HTTPMethod
    public let headers: [WebhookHeader]
    public let expectedStatus: ExpectedStatus
    /// The longest a request may take, connecting included.
    public let timeout: Duration
    public let caFile: String?
    /// `scheme://host[:port]/path`, with user info and query left out: safe for logs.
    public let displayURL: String

    private let tlsConfiguration: TLSConfiguration?
    private let client: WebhookClient

    /// Validates everything a flag can get wrong up front, so a typo fails at start, not at the first reload.
    public init(
        url: String,
        method: String = "POST",
        headers: [WebhookHeader] = [],
        expectedStatus: ExpectedStatus = .success2xx,
        timeout: Duration = .seconds(5),
        caFile: String? = nil,
        client: WebhookClient = .shared
    ) throws(WebhookConfigurationError) {
        let target = try WebhookURL(parsing: url)
        let methodName = method.uppercased()
        guard !methodName.isEmpty, methodName.utf8.allSatisfy(WebhookHeader.isTokenByte) else {
            throw WebhookConfigurationError(
                "webhook method \"\(method)\" is not an HTTP method name (e.g. POST, PUT, GET)")
        }
        guard timeout > .zero else {
            throw WebhookConfigurationError("webhook timeout must be positive, got \(timeout.reloadText)")
        }
        if caFile != nil && !target.isTLS {
            throw WebhookConfigurationError("a CA file was given for \(target.display), which is not https://")
        }
        self.url = url
        self.method = HTTPMethod(rawValue: methodName)
        self.headers = headers
        self.expectedStatus = expectedStatus
        self.timeout = timeout
        self.caFile = caFile
        self.displayURL = target.display
        self.client = client
        if let caFile {
            // Read now, so a wrong path or a file without certificates is a start-up error.
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw WebhookConfigurationError(
                    "cannot read the webhook CA file \(caFile): \(error) — it must hold PEM certificates")
            }
            guard !certificates.isEmpty else {
                throw WebhookConfigurationError("the webhook CA file \(caFile) holds no PEM certificate")
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(certificates)
            tlsConfiguration = tls
        } else {
            tlsConfiguration = nil  // the client's default: full verification against the system store
        }
    }

    /// `POST https://hooks.example/reload (headers: Authorization; expect 2xx; timeout 5s)` — for the start-up
    /// log. Header names only.
    public var summary: String {
        var parts: [String] = []
        if !headers.isEmpty { parts.append("headers: " + headers.map(\.name).joined(separator: ", ")) }
        parts.append("expect \(expectedStatus)")
        parts.append("timeout \(timeout.reloadText)")
        if let caFile { parts.append("CA \(caFile)") }
        return "\(method.rawValue) \(displayURL) (\(parts.joined(separator: "; ")))"
    }

    /// This action as a pipeline step. The step's own timeout is a backstop one second longer than the
    /// request's, so the request's timeout, whose error names the URL, normally fires first.
    public func step() -> ReloadStep {
        ReloadStep(name: "webhook \(method.rawValue) \(displayURL)", timeout: timeout + .seconds(1)) { trigger in
            try await perform(for: trigger)
        }
    }

    /// Sends the request once. Throws ``WebhookError`` for a refused connection, a timeout, a TLS failure or
    /// an unexpected status.
    public func perform(for trigger: ReloadTrigger? = nil) async throws(WebhookError) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.tlsConfiguration = tlsConfiguration
        request.headers.add(name: "User-Agent", value: "podagent/\(PodAgentVersion.string)")
        if let trigger { request.headers.add(name: "Podagent-Trigger", value: "\(trigger.sequence)") }
        for header in headers { request.headers.add(name: header.name, value: header.value) }

        let http = try client.httpClient(for: displayURL)
        do {
            let response = try await http.execute(
                request, deadline: .now() + .nanoseconds(timeout.reloadNanoseconds))
            let code = Int(response.status.code)
            if expectedStatus.matches(code) {
                // Drain, so the connection goes back to the pool for the next reload; a receiver that
                // streams without end is cut off (the connection is then closed, not reused).
                var drained = 0
                for try await chunk in response.body {
                    drained += chunk.readableBytes
                    if drained > 1 << 20 { break }
                }
                return
            }
            throw WebhookError(
                url: displayURL,
                reason: .unexpectedStatus(code: code, bodyStart: try await Self.start(of: response.body)),
                expected: expectedStatus)
        } catch let error as WebhookError {
            throw error
        } catch {
            throw WebhookError(
                url: displayURL, reason: Self.reason(for: error, timeout: timeout), expected: expectedStatus)
        }
    }

    /// The first 200 bytes of an error answer's body: enough to show what the receiver complained about,
    /// short enough to keep the log line a line. Reading stops after 64 KiB.
    private static func start(of body: HTTPClientResponse.Body) async throws -> String {
        var kept: [UInt8] = []
        var seen = 0
        for try await chunk in body {
            if kept.count < 200 {
                kept.append(contentsOf: chunk.readableBytesView.prefix(200 - kept.count))
            }
            seen += chunk.readableBytes
            if seen > 65_536 { break }
        }
        let text = String(decoding: kept, as: UTF8.self)
        return String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }

    private static func reason(for error: any Error, timeout: Duration) -> WebhookError.Reason {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout:
                return .timedOut(after: timeout)
            case .cancelled:
                return .cancelled
            case .remoteConnectionClosed:
                return .other("the server closed the connection before answering")
            default:
                return .other("\(error)")
            }
        }
        if let error = error as? NIOConnectionError {
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty {
                return .other("cannot resolve host \(error.host)")
            }
            if error.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                return .connectionRefused
            }
            return .other("cannot connect: \(error)")
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return .connectionRefused
        }
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return .tls("the server's certificate is not valid for this host name")
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            // BoringSSL's text is a dump of internal codes; its one useful word is the verify failure.
            let detail = "\(error)"
            return .tls(
                detail.contains("CERTIFICATE_VERIFY_FAILED")
                    ? "the server's certificate is not signed by a trusted CA" : detail)
        }
        if error is CancellationError { return .cancelled }
        return .other("\(error)")
    }
}

/// A request header given as `Name: value` (`--webhook-header`, repeatable).
public struct WebhookHeader: Sendable, Equatable {
    public var name: String
    /// Never shown anywhere: it may be a token.
    public var value: String

    public init(name: String, value: String) throws(WebhookConfigurationError) {
        guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
            throw WebhookConfigurationError("webhook header name \"\(name)\" is not a valid HTTP header name")
        }
        // CR or LF would let a value start a new header or end the request head.
        guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
            throw WebhookConfigurationError("the value of webhook header \(name) contains a line break")
        }
        self.name = name
        self.value = value
    }

    /// Parses `Name: value` (spaces around the value are trimmed, as HTTP does).
    public init(parsing text: String) throws(WebhookConfigurationError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw WebhookConfigurationError("webhook header must look like \"Name: value\", got a text without ':'")
        }
        let name = String(text[..<colon])
        let value = String(text[text.index(after: colon)...]).trimmingSpaces()
        try self.init(name: name, value: value)
    }

    /// RFC 9110 `tchar`: the bytes allowed in header names and method names.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

/// Which answer statuses mean "reloaded": `2xx` (the default), `200,204`, `200-299`, or a mix (`2xx,304`).
public struct ExpectedStatus: Sendable, Equatable, CustomStringConvertible {
    /// Inclusive ranges; a status matches if any contains it.
    public var ranges: [ClosedRange<Int>]
    private let text: String

    /// Any 2xx.
    public static let success2xx = ExpectedStatus(ranges: [200...299], text: "2xx")

    private init(ranges: [ClosedRange<Int>], text: String) {
        self.ranges = ranges
        self.text = text
    }

    public init(parsing text: String) throws(WebhookConfigurationError) {
        var ranges: [ClosedRange<Int>] = []
        for rawItem in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(rawItem).trimmingSpaces().lowercased()
            let bad = WebhookConfigurationError(
                "expected status \"\(item)\" in \"\(text)\" is not a status (200), a class (2xx) or a range (200-299)")
            if item.count == 3, item.hasSuffix("xx"), let digit = Int(item.prefix(1)), (1...5).contains(digit) {
                ranges.append(digit * 100...digit * 100 + 99)
            } else if let dash = item.firstIndex(of: "-") {
                guard let low = Self.status(item[..<dash]), let high = Self.status(item[item.index(after: dash)...]),
                    low <= high
                else { throw bad }
                ranges.append(low...high)
            } else if let code = Self.status(item[...]) {
                ranges.append(code...code)
            } else {
                throw bad
            }
        }
        let canonical = text.split(separator: ",").map { String($0).trimmingSpaces() }.joined(separator: ",")
        self.init(ranges: ranges, text: canonical)
    }

    public func matches(_ status: Int) -> Bool { ranges.contains { $0.contains(status) } }

    public var description: String { text }

    private static func status(_ text: Substring) -> Int? {
        guard text.count == 3, let code = Int(text), (100...599).contains(code) else { return nil }
        return code
    }
}

/// A webhook flag that cannot work; said at start-up.
public struct WebhookConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A webhook request that did not get an expected answer.
public struct WebhookError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in terms a user can act on.
    public enum Reason: Sendable, Equatable {
        case connectionRefused
        case unexpectedStatus(code: Int, bodyStart: String)
        case timedOut(after: Duration)
        case tls(String)
        case cancelled
        case shutDown
        case other(String)
    }

    /// The URL without user info and query.
    public var url: String
    public var reason: Reason
    public var expected: ExpectedStatus

    public var description: String {
        switch reason {
        case .connectionRefused:
            return "webhook \(url): connection refused — is the receiver listening on that host and port?"
        case .unexpectedStatus(let code, let bodyStart):
            let body = bodyStart.isEmpty ? "" : ": \(bodyStart)"
            return "webhook \(url) answered \(code), expected \(expected)\(body)"
        case .timedOut(let after):
            return "webhook \(url) timed out after \(after.reloadText)"
        case .tls(let detail):
            return "webhook \(url): TLS failed: \(detail) — trusted are the system store, "
                + "or only the CA file if one is given"
        case .cancelled:
            return "webhook \(url): cancelled"
        case .shutDown:
            return "webhook \(url): not sent, podagent is shutting down"
        case .other(let detail):
            return "webhook \(url): \(detail)"
        }
    }
}

/// The one HTTP client behind every webhook, created on first use: a sidecar that never reloads keeps no
/// event-loop thread for it, and an idle client has no timers (the pool's idle timeout runs only while a
/// kept-alive connection exists, and closes it after 60 s). Its event loop is a single thread of its own,
/// unless a group is handed in to share (e.g. the status server's). Shut it down once, at exit.
public final class WebhookClient: Sendable {
    /// The process's client.
    /// Runs on the process-wide NIO event loops that also run Swift concurrency here, which saves a
    /// thread and a hop between loops per request.
    public static let shared = WebhookClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)

    private enum State {
        case idle
        case running(HTTPClient, ownGroup: MultiThreadedEventLoopGroup?)
        case shutDown
    }

    private let state = NIOLockedValueBox(State.idle)
    private let sharedGroup: (any EventLoopGroup)?

    /// - Parameter eventLoopGroup: a group to run on; nil creates a one-thread group on first use.
    public init(eventLoopGroup: (any EventLoopGroup)? = nil) {
        sharedGroup = eventLoopGroup
    }

    func httpClient(for url: String) throws(WebhookError) -> HTTPClient {
        let client: HTTPClient? = state.withLockedValue { state in
            switch state {
            case .running(let client, _):
                return client
            case .shutDown:
                return nil
            case .idle:
                var configuration = HTTPClient.Configuration()
                configuration.redirectConfiguration = .disallow
                configuration.connectionPool.retryConnectionEstablishment = false
                // One request per reload: HTTP/2's extra machinery buys nothing here.
                configuration.httpVersion = .http1Only
                let ownGroup = sharedGroup == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
                let client = HTTPClient(
                    eventLoopGroup: sharedGroup ?? ownGroup!, configuration: configuration,
                    backgroundActivityLogger: Self.silent)
                state = .running(client, ownGroup: ownGroup)
                return client
            }
        }
        guard let client else {
            throw WebhookError(url: url, reason: .shutDown, expected: .success2xx)
        }
        return client
    }

    /// Whether the HTTP client (and its thread) exists yet.
    var hasStarted: Bool {
        state.withLockedValue { state in
            if case .running = state { return true }
            return false
        }
    }

    /// Closes connections and stops the client's own thread; later webhooks fail with "shutting down".
    public func shutdown() async {
        let previous = state.withLockedValue { state in
            defer { state = .shutDown }
            return state
        }
        guard case .running(let client, let ownGroup) = previous else { return }
        try? await client.shutdown()
        try? await ownGroup?.shutdownGracefully()
    }

    /// A client dropped without ``shutdown()`` (a test that failed half way, say) still closes: AHC traps
    /// in debug builds when an un-shut-down client is freed.
    deinit {
        let previous = state.withLockedValue { state in
            defer { state = .shutDown }
            return state
        }
        guard case .running(let client, let ownGroup) = previous else { return }
        client.shutdown { _ in ownGroup?.shutdownGracefully { _ in } }
    }

    /// AHC's background logs (pool housekeeping) are not podagent's events.
    private static let silent = Logger(label: "podagent.webhook.pool", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// The few facts about a webhook URL that podagent checks itself; AsyncHTTPClient parses the rest.
private struct WebhookURL {
    var isTLS: Bool
    var display: String

    init(parsing text: String) throws(WebhookConfigurationError) {
        let lower = text.lowercased()
        let schemeLength: Int
        if lower.hasPrefix("https://") {
            isTLS = true
            schemeLength = 8
        } else if lower.hasPrefix("http://") {
            isTLS = false
            schemeLength = 7
        } else {
            throw WebhookConfigurationError("webhook URL must start with http:// or https://")
        }
        let rest = text.dropFirst(schemeLength)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty, !authority.hasPrefix(":") else {
            throw WebhookConfigurationError("webhook URL has no host")
        }
        guard !text.contains(where: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }) else {
            throw WebhookConfigurationError("webhook URL contains whitespace; encode it as %20")
        }
        let afterAuthority = rest[authorityEnd...]
        let pathEnd = afterAuthority.firstIndex { $0 == "?" || $0 == "#" } ?? afterAuthority.endIndex
        let hasQuery = afterAuthority[pathEnd...].hasPrefix("?")
        display = text.prefix(schemeLength).lowercased() + String(authority) + String(afterAuthority[..<pathEnd])
        if hasQuery { display += "?…" }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(scalars[first...last])
    }
}
