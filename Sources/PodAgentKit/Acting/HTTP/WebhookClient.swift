import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// The HTTP/1.1 client behind every `--webhook`: one kept-alive connection per endpoint (host, port and
/// trust), reused across reloads, on NIO's process-wide event loops.
///
/// Lean by design, because a reload's latency is mostly this client's: no pool housekeeping, no timers
/// while idle (an idle podagent is never woken; a kept-alive connection just sits in epoll), no thread of
/// its own, no libdispatch, no redirects, no HTTP/2.
///
/// ```swift
/// let client = WebhookClient()
/// let response = try await client.send(request, to: endpoint, deadline: .now() + .seconds(5))
/// await client.shutdown()
/// ```
///
/// **When a request is sent again.** A server may close a kept-alive connection whenever it likes (its
/// idle timeout, a restart). Usually podagent has seen that close long before the next reload and simply
/// connects afresh. When the close races the next request, the request is resent once, on a fresh
/// connection, only if the failed connection had already carried an exchange (a fresh connection failing
/// is a real failure) and no answer had started, and either:
/// 1. nothing of the request was written: the connection was found closed before writing, or the write
///    itself failed. The write goes to an idle socket whose send buffer is empty (the previous answer was
///    read to its end), so a small request — ``resendableWriteLimit`` bytes, far more than a webhook's
///    head — is taken by the kernel whole or not at all; a larger one may have gone out in part and is
///    treated as sent; or
/// 2. the method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE; RFC 9110 §9.2.2): the server may
///    have acted on it, but acting twice has the effect of once.
///
/// So a POST that went out is never sent again by this client, even when the connection closed without an
/// answer — the receiver may have reloaded. The reload pipeline's retry, with its backoff, logging and
/// metrics, decides what happens next; that retry is visible, this resend is not.
public final class WebhookClient: Sendable {
    /// The process's client, on the process-wide NIO event loops that also run Swift concurrency in
    /// podagent, which saves a thread and a hop between loops per request.
    public static let shared = WebhookClient()

    /// Requests up to this size (head and body) are all-or-nothing when written to an idle connection.
    static let resendableWriteLimit = 4096

    private struct State {
        var idle: [WebhookEndpoint: WebhookConnection] = [:]
        /// Connections carrying a request, by identity: closed at shutdown.
        var busy: [ObjectIdentifier: WebhookConnection] = [:]
        /// TLS contexts by CA file (nil: the system store), made on first use: loading the system store
        /// costs memory a plain-http webhook never needs.
        var tlsContexts: [String?: NIOSSLContext] = [:]
        var started = false
        var shutDown = false
    }

    private let state = NIOLockedValueBox(State())
    private let group: any EventLoopGroup

    /// - Parameter eventLoopGroup: the loops connections live on; NIO's process-wide group by default.
    public init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        group = eventLoopGroup
    }

    /// Sends `request` to `endpoint` and returns the answer, whatever its status. Connecting, TLS, writing
    /// and reading all end by `deadline`; a request that times out closes its connection.
    func send(
        _ request: WebhookRequest, to endpoint: WebhookEndpoint, deadline: NIODeadline
    ) async throws(WebhookTransportError) -> WebhookResponse {
        // 1. A kept-alive connection if there is one, else a new one.
        var (connection, reused) = try checkOut(endpoint)
        if connection == nil { connection = try await connect(to: endpoint, deadline: deadline) }
        do {
            // 2. The exchange.
            return try await exchange(request, on: connection!, deadline: deadline)
        } catch let failure {
            // 3. At most one resend, on a fresh connection, when that cannot repeat an effect (see above).
            guard reused, mayResend(request, after: failure) else { throw failure.error }
            reused = false
            let fresh = try await connect(to: endpoint, deadline: deadline)
            do {
                return try await exchange(request, on: fresh, deadline: deadline)
            } catch let failure {
                throw failure.error
            }
        }
    }

    private func mayResend(_ request: WebhookRequest, after failure: WebhookExchangeFailure) -> Bool {
        guard failure.error == .closedBeforeAnswer, !failure.answerStarted else { return false }
        if request.isIdempotent { return true }
        let size = request.headers.reduce(request.target.utf8.count + 32) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
            + (request.body?.readableBytes ?? 0)
        return !failure.requestWritten && size <= Self.resendableWriteLimit
    }

    /// Runs one exchange and puts the connection back (or closes it) afterwards.
    private func exchange(
        _ request: WebhookRequest, on connection: WebhookConnection, deadline: NIODeadline
    ) async throws(WebhookExchangeFailure) -> WebhookResponse {
        do {
            let (response, reusable) = try await connection.exchange(request, deadline: deadline)
            checkIn(connection, reusable: reusable)
            return response
        } catch {
            checkIn(connection, reusable: false)
            throw error
        }
    }

    private func checkOut(_ endpoint: WebhookEndpoint) throws(WebhookTransportError) -> (WebhookConnection?, Bool) {
        let connection: WebhookConnection?? = state.withLockedValue { state in
            guard !state.shutDown else { return .none }
            state.started = true
            guard let connection = state.idle.removeValue(forKey: endpoint) else { return .some(nil) }
            state.busy[ObjectIdentifier(connection)] = connection
            return .some(connection)
        }
        guard let connection else { throw .shutDown }
        return (connection, connection != nil)
    }

    private func checkIn(_ connection: WebhookConnection, reusable: Bool) {
        let keep = state.withLockedValue { state in
            state.busy[ObjectIdentifier(connection)] = nil
            guard reusable, !state.shutDown, state.idle[connection.endpoint] == nil else { return false }
            state.idle[connection.endpoint] = connection
            return true
        }
        if !keep {
            connection.close()
            return
        }
        // The server may have closed the connection after its answer, before this check-in: then the
        // close handler (which only clears idle connections) has already run and missed it. Inserting
        // first and looking second leaves no order in which a dead connection stays idle.
        if !connection.channel.isActive {
            state.withLockedValue { state in
                if state.idle[connection.endpoint] === connection { state.idle[connection.endpoint] = nil }
            }
            connection.close()
        }
    }

    private func connect(
        to endpoint: WebhookEndpoint, deadline: NIODeadline
    ) async throws(WebhookTransportError) -> WebhookConnection {
        let tls = try endpoint.trust.map { trust throws(WebhookTransportError) in try tlsContext(for: trust) }
        let connection = try await WebhookConnection.open(to: endpoint, tls: tls, on: group.any(), deadline: deadline)
        let registered = state.withLockedValue { state in
            guard !state.shutDown else { return false }
            state.busy[ObjectIdentifier(connection)] = connection
            return true
        }
        guard registered else {
            connection.close()
            throw .shutDown
        }
        // A kept-alive connection the server closes leaves the idle list at once, not at the next reload.
        connection.channel.closeFuture.whenComplete { [weak self] _ in
            self?.state.withLockedValue { state in
                if state.idle[connection.endpoint] === connection { state.idle[connection.endpoint] = nil }
            }
        }
        return connection
    }

    private func tlsContext(for trust: WebhookTrust) throws(WebhookTransportError) -> NIOSSLContext {
        if let context = state.withLockedValue({ $0.tlsContexts[trust.caFile] }) { return context }
        let context: NIOSSLContext
        do {
            context = try trust.makeContext()
        } catch {
            throw .tls("cannot set up TLS: \(error)")
        }
        state.withLockedValue { $0.tlsContexts[trust.caFile] = context }
        return context
    }

    /// Whether a request was ever attempted.
    var hasStarted: Bool { state.withLockedValue { $0.started } }

    /// How many kept-alive connections wait for the next request (for tests).
    var idleConnectionCount: Int { state.withLockedValue { $0.idle.count } }

    /// Closes every connection; later webhooks fail with "shutting down".
    public func shutdown() async {
        let connections = state.withLockedValue { state in
            state.shutDown = true
            defer {
                state.idle = [:]
                state.busy = [:]
            }
            return Array(state.idle.values) + Array(state.busy.values)
        }
        for connection in connections {
            try? await connection.channel.close()
        }
    }

    /// A client dropped without ``shutdown()`` closes its connections.
    deinit {
        state.withLockedValue { state in
            for connection in state.idle.values { connection.close() }
            for connection in state.busy.values { connection.close() }
        }
    }
}
