import NIOCore
import NIOHTTP1
import NIOSSL

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
///   refused connection is reported at once, naming the URL. The one exception is a kept-alive connection
///   the server closed just as the next request went out; ``WebhookClient`` explains when it resends.
/// - The connection is kept alive and reused by the next reload (see ``WebhookClient``).
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

    private let target: WebhookURL
    private let endpoint: WebhookEndpoint
    private let client: WebhookClient
    /// The request head's fixed headers, worked out once: those before `Podagent-Trigger` and those after.
    private let headPrefix: HTTPHeaders
    private let headSuffix: [(String, String)]

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
        self.target = target
        (headPrefix, headSuffix) = Self.fixedHeaders(target: target, method: self.method, given: headers)
        var trust: WebhookTrust?
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
            trust = .pinned(caFile: caFile, certificates: certificates)
        }
        endpoint = WebhookEndpoint(target, trust: trust)  // https without a CA file: the system store
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

    /// This action as a pipeline step. The request's deadline (resolving, connecting, writing and reading
    /// all end by it) bounds the step, so the pipeline needs no backstop of its own; the step's timeout,
    /// one second longer, is what it reports.
    public func step() -> ReloadStep {
        ReloadStep(name: "webhook \(method.rawValue) \(displayURL)", timeout: timeout + .seconds(1), boundsItself: true) { trigger in
            try await perform(for: trigger)
        }
    }

    /// Sends the request (once, but see ``WebhookClient`` on resends). Throws ``WebhookError`` for a refused
    /// connection, a timeout, a TLS failure or an unexpected status.
    public func perform(for trigger: ReloadTrigger? = nil) async throws(WebhookError) {
        var headers = headPrefix
        if let trigger { headers.add(name: "Podagent-Trigger", value: "\(trigger.sequence)") }
        headers.add(contentsOf: headSuffix)
        let request = WebhookRequest(method: method, target: target.requestTarget, headers: headers, body: nil)

        let response: WebhookResponse
        do {
            response = try await client.send(request, to: endpoint, deadline: .now() + .nanoseconds(timeout.reloadNanoseconds))
        } catch {
            throw WebhookError(url: displayURL, reason: Self.reason(for: error, timeout: timeout), expected: expectedStatus)
        }
        guard expectedStatus.matches(response.status) else {
            throw WebhookError(
                url: displayURL,
                reason: .unexpectedStatus(code: response.status, bodyStart: Self.printable(response.bodyStart)),
                expected: expectedStatus)
        }
    }

    /// Host (unless given), User-Agent; then, after the trigger's header, the given headers and the
    /// (empty) body's length.
    private static func fixedHeaders(
        target: WebhookURL, method: HTTPMethod, given: [WebhookHeader]
    ) -> (HTTPHeaders, [(String, String)]) {
        var prefix = HTTPHeaders()
        var suffix: [(String, String)] = []
        var hostGiven = false
        var authorizationGiven = false
        for header in given {
            // The message's framing is the client's: a user-given length would desynchronise the connection.
            let lower = header.name.lowercased()
            guard lower != "content-length" && lower != "transfer-encoding" else { continue }
            if lower == "host" {
                // One Host only: the last one given replaces the default and any earlier one.
                hostGiven = true
                suffix.removeAll { $0.0.lowercased() == "host" }
            }
            if lower == "authorization" { authorizationGiven = true }
            suffix.append((header.name, header.value))
        }
        if let credentials = target.basicCredentials, !authorizationGiven {
            // User info in the URL, as curl and Prometheus read it; never logged, like every header value.
            suffix.insert(("Authorization", "Basic " + Base64.encode(credentials)), at: 0)
        }
        if !hostGiven { prefix.add(name: "Host", value: target.hostHeader) }
        prefix.add(name: "User-Agent", value: "podagent/\(PodAgentVersion.string)")
        if expectsBody(method) { suffix.append(("Content-Length", "0")) }
        return (prefix, suffix)
    }

    /// POST, PUT and PATCH announce their (empty) body, as servers may otherwise wait for one or answer 411.
    private static func expectsBody(_ method: HTTPMethod) -> Bool {
        switch method {
        case .POST, .PUT, .PATCH: return true
        default: return false
        }
    }

    /// The start of an error answer's body as one log-safe line: control characters become spaces.
    private static func printable(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }

    private static func reason(for error: WebhookTransportError, timeout: Duration) -> WebhookError.Reason {
        switch error {
        case .shutDown: return .shutDown
        case .cancelled: return .cancelled
        case .timedOut: return .timedOut(after: timeout)
        case .connectionRefused: return .connectionRefused
        case .tls(let detail): return .tls(detail)
        case .cannotResolve(let host, let detail): return .other("cannot resolve host \(host): \(detail)")
        case .cannotConnect(let detail): return .other("cannot connect: \(detail)")
        case .closedBeforeAnswer: return .other("the server closed the connection before answering")
        case .invalidAnswer(let detail): return .other("the answer is not valid HTTP/1.1: \(detail)")
        case .other(let detail): return .other(detail)
        }
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
        guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else {
            throw WebhookConfigurationError("the value of webhook header \(name) contains a line break")
        }
        // RFC 9110 §5.5: no control characters other than HTAB. This is the only check: the client
        // sends header values without looking at them again.
        guard !value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
            throw WebhookConfigurationError("the value of webhook header \(name) contains a control character")
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

extension String {
    fileprivate func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(scalars[first...last])
    }
}
