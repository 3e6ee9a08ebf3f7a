import NIOCore
import NIOHTTP1

/// The last handler of a webhook connection's pipeline: sends one request at a time and collects its
/// answer. Lives on the channel's event loop; everything here runs there.
///
/// ```
/// socket ⇄ [NIOSSLClientHandler] ⇄ HTTPRequestEncoder / HTTPResponseDecoder ⇄ WebhookExchangeHandler
/// ```
///
/// The decoder frames the answer (Content-Length, chunked, or until close; no body for HEAD, 204, 304).
/// An exchange ends with the answer's end, a timeout (which closes the connection), an error or the
/// connection closing. After an answer the connection stays open for the next request if the server
/// keeps it alive and the body was read to its end.
final class WebhookExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// Body bytes kept for an error message.
    static let bodyStartLimit = 200
    /// Body bytes read before giving up on the rest (the connection is then closed, not reused).
    static let bodyLimit = 1 << 20

    /// The request in flight and what has come back of its answer so far.
    private struct Exchange {
        var id: Int
        var promise: EventLoopPromise<WebhookResponse>
        var timeout: Scheduled<Void>?
        var written = false
        var status: Int?
        var keepAlive = false
        var bodyStart: [UInt8] = []
        var bodyBytes = 0
        var keepBody: Int
    }

    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    private var nextID = 0
    private var closed = false
    /// The first error the pipeline reported: it explains a close that comes after it.
    private var firstError: (any Error)?
    /// Whether the next request may use this connection: open, idle, and every earlier answer read to its end.
    private(set) var isReusable = true

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Writes `request` and completes `promise` with its answer, or fails it with a ``WebhookExchangeFailure``.
    func start(_ request: WebhookRequest, deadline: NIODeadline, promise: EventLoopPromise<WebhookResponse>) {
        guard let context, !closed, exchange == nil, isReusable, context.channel.isActive else {
            // Found closed (the server ended the kept-alive connection): nothing was written.
            let error = firstError.map(WebhookTransportError.init) ?? .closedBeforeAnswer
            promise.fail(WebhookExchangeFailure(error: error, requestWritten: false, answerStarted: false))
            return
        }
        nextID += 1
        let id = nextID
        let loop = context.eventLoop.assumeIsolated()
        exchange = Exchange(id: id, promise: promise, keepBody: min(request.keepBody, Self.bodyLimit))
        exchange?.timeout = loop.scheduleTask(deadline: deadline) { self.fail(id, .timedOut) }

        let head = HTTPRequestHead(
            version: .http1_1, method: request.method, uri: request.target, headers: request.headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = request.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                if self.exchange?.id == id { self.exchange?.written = true }
            case .failure(let error):
                self.fail(id, WebhookTransportError(self.firstError ?? error))
            }
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
    }

    /// Ends the exchange in flight (the caller's task was cancelled) and closes the connection, as its
    /// answer would otherwise arrive for nobody.
    func cancel() {
        if let id = exchange?.id { fail(id, .cancelled) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard exchange != nil else {
            // An answer nobody asked for: the connection is out of step; drop it.
            isReusable = false
            context.close(promise: nil)
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            exchange?.status = Int(head.status.code)
            exchange?.keepAlive = head.isKeepAlive
        case .body(let buffer):
            guard var current = exchange else { return }
            if current.bodyStart.count < current.keepBody {
                current.bodyStart += buffer.readableBytesView.prefix(current.keepBody - current.bodyStart.count)
            }
            current.bodyBytes += buffer.readableBytes
            exchange = current
            if current.bodyBytes > Self.bodyLimit { finish(reusable: false) }
        case .end:
            finish(reusable: exchange?.keepAlive == true && exchange?.written == true)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if firstError == nil { firstError = error }
        if let id = exchange?.id { fail(id, WebhookTransportError(error)) }
        isReusable = false
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        isReusable = false
        if let id = exchange?.id { fail(id, firstError.map(WebhookTransportError.init) ?? .closedBeforeAnswer) }
        context.fireChannelInactive()
    }

    private func finish(reusable: Bool) {
        guard let done = exchange, let status = done.status else { return }
        exchange = nil
        done.timeout?.cancel()
        if !reusable {
            isReusable = false
            context?.close(promise: nil)
        }
        done.promise.succeed(WebhookResponse(status: status, bodyStart: done.bodyStart, bodyBytes: done.bodyBytes))
    }

    private func fail(_ id: Int, _ error: WebhookTransportError) {
        guard let done = exchange, done.id == id else { return }
        exchange = nil
        done.timeout?.cancel()
        isReusable = false
        context?.close(promise: nil)
        done.promise.fail(
            WebhookExchangeFailure(
                error: error, requestWritten: done.written, answerStarted: done.status != nil || done.bodyBytes > 0))
    }
}
