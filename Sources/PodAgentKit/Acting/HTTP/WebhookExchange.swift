import NIOCore
import NIOHTTP1
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One webhook request: what ``WebhookClient`` sends. Header values may be secrets: nothing here is logged.
struct WebhookRequest: Sendable {
    var method: HTTPMethod
    /// Path and query, e.g. `/-/reload?x=1`.
    var target: String
    var headers: HTTPHeaders
    var body: ByteBuffer?
    /// How much of the answer's body to keep: the start for an error message (webhooks), or all of a
    /// small JSON document (`inspect`'s API-server calls), at most ``WebhookExchangeHandler/bodyLimit``.
    var keepBody = WebhookExchangeHandler.bodyStartLimit

    /// RFC 9110 §9.2.2: methods whose effect is the same however often they are sent. Only these are
    /// resent after the request went out on a kept-alive connection that the server then closed.
    var isIdempotent: Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: return true
        default: return false
        }
    }
}

/// What came back: the status and the start of the body (for error messages); the rest of the body is
/// read and dropped, up to ``WebhookExchangeHandler/bodyLimit``.
struct WebhookResponse: Sendable, Equatable {
    var status: Int
    /// At most the first ``WebhookExchangeHandler/bodyStartLimit`` bytes of the body.
    var bodyStart: [UInt8]
    /// How many body bytes arrived in all.
    var bodyBytes: Int
}

/// Why a webhook request got no answer, in terms ``WebhookError`` turns into a message.
enum WebhookTransportError: Error, Sendable, Equatable {
    case shutDown
    case cancelled
    case timedOut
    case cannotResolve(host: String, detail: String)
    case connectionRefused
    case cannotConnect(String)
    case tls(String)
    /// The connection closed (or was reset) before a complete answer arrived.
    case closedBeforeAnswer
    case invalidAnswer(String)
    case other(String)

    /// Sorts an error from NIO, NIOSSL or the socket into what a user can act on.
    init(_ error: any Error) {
        if let error = error as? WebhookTransportError {
            self = error
        } else if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            self = .tls("the server's certificate is not valid for this host name")
        } else if let error = error as? NIOSSLError, case .uncleanShutdown = error {
            self = .closedBeforeAnswer
        } else if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            // BoringSSL's text is a dump of internal codes; its one useful word is the verify failure.
            let detail = "\(error)"
            self = .tls(
                detail.contains("CERTIFICATE_VERIFY_FAILED")
                    ? "the server's certificate is not signed by a trusted CA" : detail)
        } else if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: self = .connectionRefused
            case ECONNRESET, EPIPE: self = .closedBeforeAnswer
            default: self = .other("\(error)")
            }
        } else if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: self = .timedOut
            case .ioOnClosedChannel, .eof, .alreadyClosed, .outputClosed: self = .closedBeforeAnswer
            default: self = .other("\(error)")
            }
        } else if error is HTTPParserError {
            self = .invalidAnswer("\(error)")
        } else if error is CancellationError {
            self = .cancelled
        } else {
            self = .other("\(error)")
        }
    }
}

/// A failed exchange on one connection, with what the resend rule needs to know.
struct WebhookExchangeFailure: Error, Sendable {
    var error: WebhookTransportError
    /// Whether the whole request reached the socket (its write completed). When false, nothing of it was
    /// written: see ``WebhookClient`` for why a small request on an idle connection is all or nothing.
    var requestWritten: Bool
    /// Whether any part of an answer was decoded.
    var answerStarted: Bool
}
