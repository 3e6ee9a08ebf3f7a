import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP/1.1 connection to a webhook endpoint, kept alive between reloads.
///
/// Carries one request at a time (``WebhookClient`` never hands a busy connection out). Everything
/// stateful lives in its ``WebhookExchangeHandler`` on the channel's event loop.
final class WebhookConnection: Sendable {
    let endpoint: WebhookEndpoint
    let channel: any Channel
    private let handler: NIOLoopBound<WebhookExchangeHandler>

    private init(endpoint: WebhookEndpoint, channel: any Channel, handler: NIOLoopBound<WebhookExchangeHandler>) {
        self.endpoint = endpoint
        self.channel = channel
        self.handler = handler
    }

    /// Resolves the host, then connects to each of its addresses in order until one answers; TCP_NODELAY,
    /// and TLS with SNI and host-name verification when `tls` is given (an IP literal is verified against
    /// the certificate's IP addresses instead, and sends no SNI, which may not carry an address).
    static func open(
        to endpoint: WebhookEndpoint, tls: NIOSSLContext?, on loop: any EventLoop, deadline: NIODeadline
    ) async throws(WebhookTransportError) -> WebhookConnection {
        let addresses: [SocketAddress]
        do {
            // A cancelled task (shutdown) stops waiting for getaddrinfo, which cannot be interrupted.
            addresses = try await WebhookAddressResolver.addresses(of: endpoint, on: loop, deadline: deadline)
                .getUnlessCancelled()
        } catch {
            throw WebhookTransportError(error)
        }
        let serverHostname = endpoint.literalAddress == nil ? endpoint.host : nil
        var lastError = WebhookTransportError.connectionRefused
        for (index, address) in addresses.enumerated() {
            let remaining = deadline - .now()
            guard remaining > .zero else { throw .timedOut }
            // Each address left gets an equal share of the time left: one that drops packets must not
            // use it all up before the next is tried (a name with an unreachable IPv6 address first).
            let share = TimeAmount.nanoseconds(
                max(remaining.nanoseconds / Int64(addresses.count - index), TimeAmount.milliseconds(250).nanoseconds))
            do {
                // The handler is handed out of the initializer, not looked up later: a TLS handshake that
                // fails at once empties the pipeline before a lookup could run, and its error is needed.
                let added = NIOLockedValueBox<NIOLoopBound<WebhookExchangeHandler>?>(nil)
                // The channel being connected, so that a cancelled task (shutdown) can close it rather than
                // wait for the connect to time out.
                let connecting = NIOLockedValueBox<(any Channel)?>(nil)
                let cancelled = NIOLockedValueBox(false)
                let connect = ClientBootstrap(group: loop)
                    .connectTimeout(min(share, remaining))
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        connecting.withLockedValue { $0 = channel }
                        return channel.eventLoop.makeCompletedFuture {
                            let pipeline = channel.pipeline.syncOperations
                            if let tls {
                                try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                            }
                            // NIO would check every header of every request for bytes that could split
                            // the head; `WebhookHeader` already refused them when the flags were parsed,
                            // and the other headers are podagent's own. Once is enough on the reload path.
                            try pipeline.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                            let handler = WebhookExchangeHandler()
                            try pipeline.addHandler(handler)
                            added.withLockedValue { $0 = NIOLoopBound(handler, eventLoop: channel.eventLoop) }
                        }
                    }
                    .connect(to: address)
                // Connected after all, but for nobody: close it.
                connect.whenSuccess { channel in if cancelled.withLockedValue({ $0 }) { channel.close(promise: nil) } }
                let channel = try await connect.getUnlessCancelled {
                    cancelled.withLockedValue { $0 = true }
                    connecting.withLockedValue { $0 }?.close(promise: nil)
                }
                guard let handler = added.withLockedValue({ $0 }) else { throw ChannelError.inappropriateOperationForState }
                return WebhookConnection(endpoint: endpoint, channel: channel, handler: handler)
            } catch {
                lastError = WebhookTransportError(error)
                if lastError == .cancelled { throw lastError }
                // This address's share ran out; the next one gets the rest, unless nothing is left.
                if lastError == .timedOut && (index == addresses.count - 1 || deadline <= .now()) { throw lastError }
            }
        }
        throw lastError
    }

    /// Sends `request` and waits for its answer. Returns whether the connection may carry another request.
    /// Cancelling the calling task ends the exchange and closes the connection.
    func exchange(
        _ request: WebhookRequest, deadline: NIODeadline
    ) async throws(WebhookExchangeFailure) -> (response: WebhookResponse, reusable: Bool) {
        let loop = channel.eventLoop
        let handler = self.handler
        let answer = loop.makePromise(of: WebhookResponse.self)
        let reusable = answer.futureResult.map { response in (response, handler.value.isReusable) }
        if loop.inEventLoop {
            handler.value.start(request, deadline: deadline, promise: answer)
        } else {
            loop.execute { handler.value.start(request, deadline: deadline, promise: answer) }
        }
        do {
            return try await withTaskCancellationHandler {
                try await reusable.get()
            } onCancel: {
                loop.execute { handler.value.cancel() }
            }
        } catch let failure as WebhookExchangeFailure {
            throw failure
        } catch {
            throw WebhookExchangeFailure(error: WebhookTransportError(error), requestWritten: false, answerStarted: false)
        }
    }

    func close() {
        channel.close(promise: nil)
    }
}

extension EventLoopFuture where Value: Sendable {
    /// `get()` that stops waiting as soon as the calling task is cancelled, throwing
    /// `WebhookTransportError.cancelled`; `onCancel` may stop the work behind the future.
    func getUnlessCancelled(onCancel: @escaping @Sendable () -> Void = {}) async throws -> Value {
        let relay = eventLoop.makePromise(of: Value.self)
        cascade(to: relay)
        return try await withTaskCancellationHandler {
            try await relay.futureResult.get()
        } onCancel: {
            relay.fail(WebhookTransportError.cancelled)  // ignored when the future completed first
            onCancel()
        }
    }
}
