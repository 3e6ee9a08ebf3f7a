#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The `--listen` endpoint: `/healthz`, `/readyz` and `/metrics` over plain HTTP/1.1.
///
/// ```swift
/// let server = try await StatusServer.bind(
///     to: ListenAddress(parsing: ":9090"), registry: MetricsSetup.bootstrap(),
///     readiness: readiness, logger: logger)
/// try await ServiceGroup(services: [server, …], logger: logger).run()
/// ```
///
/// Binding is a step of its own so that "address already in use" stops podagent at startup,
/// before it spawns a child or watches anything. The server answers from the moment it is
/// bound; ``run()`` only decides how long it lives.
///
/// Idle cost: one event-loop thread blocked in `epoll_wait` with no timers (NIO schedules none for a
/// listening socket), so no wakeups without clients. An open connection has one timer, its
/// ``StatusServerLimits/requestTimeout``, which ends it when no request comes.
/// (A process whose Swift Concurrency runs on libdispatch's global queues still wakes once a
/// second: libdispatch's Linux thread-pool monitor. Not this server's doing; NIO can take over
/// as the global executor to avoid it.)
public final class StatusServer: Service, Sendable {
    /// The port actually bound; the requested one unless that was 0.
    public let boundPort: Int
    /// The address as requested (host empty for every interface).
    public let address: ListenAddress

    private let channel: any Channel
    private let connections: ConnectionSet
    private let ownedGroup: MultiThreadedEventLoopGroup?
    private let logger: Logger

    private init(
        address: ListenAddress, boundPort: Int, channel: any Channel, connections: ConnectionSet,
        ownedGroup: MultiThreadedEventLoopGroup?, logger: Logger
    ) {
        self.address = address
        self.boundPort = boundPort
        self.channel = channel
        self.connections = connections
        self.ownedGroup = ownedGroup
        self.logger = logger
    }

    /// Binds the listening socket and starts answering requests.
    ///
    /// - Parameter eventLoopGroup: a group to share (e.g. the HTTP client's); by default the server
    ///   runs one event-loop thread of its own and stops it when it closes.
    /// - Parameter answered: called with the path (`/healthz`, `/readyz`, `/metrics`) once an answer
    ///   on it has been written, on the connection's event loop.
    public static func bind(
        to address: ListenAddress,
        registry: PrometheusCollectorRegistry,
        readiness: Readiness,
        logger: Logger,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        limits: StatusServerLimits = StatusServerLimits(),
        answered: (@Sendable (String) -> Void)? = nil
    ) async throws(StatusServerError) -> StatusServer {
        let ownedGroup = eventLoopGroup == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let group: any EventLoopGroup = eventLoopGroup ?? ownedGroup!
        let routes = StatusRoutes(registry: registry, readiness: readiness, answered: answered)
        let connections = ConnectionSet(limit: limits.maxConnections)
        let requestLogger = logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            // Lets a restarted podagent bind while connections of the previous one sit in TIME_WAIT.
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard connections.add(channel) else {
                    // Over the limit: a client opening connections without end must not use up podagent's
                    // file descriptors, which its watches and reloads need.
                    requestLogger.debug("status connection refused: too many open", metadata: ["limit": "\(limits.maxConnections)"])
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        StatusRequestHandler(routes: routes, logger: requestLogger, requestTimeout: limits.requestTimeout))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 1)

        do {
            let channel = try await bindAnyInterfaceAware(bootstrap, address)
            let port = channel.localAddress?.port ?? address.port
            logger.info(
                "status endpoint listening",
                metadata: ["address": "\(ListenAddress(host: address.host, port: port))"])
            return StatusServer(
                address: address, boundPort: port, channel: channel, connections: connections,
                ownedGroup: ownedGroup, logger: logger)
        } catch {
            try? await ownedGroup?.shutdownGracefully()
            throw StatusServerError(address: address, underlying: error)
        }
    }

    /// Serves until graceful shutdown or cancellation, then closes the listening socket and every
    /// open connection before returning (well within a second: nothing is waited for).
    ///
    /// Returns normally on shutdown or cancellation; `throws` only because `Service` says so.
    public func run() async throws {
        let channel = self.channel
        await withTaskCancellationOrGracefulShutdownHandler {
            // Completes when the handler below closes the channel; an error here would mean the
            // listening socket broke, which ends the service like a shutdown does.
            try? await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
        await close()
    }

    /// Closes the listening socket and open connections, and stops an owned event loop.
    /// ``run()`` does this on its way out; call it directly only if `run()` is never called.
    public func close() async {
        try? await channel.close()
        await connections.closeAll()
        if let ownedGroup {
            try? await ownedGroup.shutdownGracefully()
        }
        logger.debug("status endpoint closed", metadata: ["port": "\(boundPort)"])
    }

    /// `:PORT` means every interface, IPv6 and IPv4 alike (NIO makes `::` dual-stack), as in Go;
    /// a pod without IPv6 falls back to `0.0.0.0`.
    private static func bindAnyInterfaceAware(
        _ bootstrap: ServerBootstrap, _ address: ListenAddress
    ) async throws -> any Channel {
        guard address.host.isEmpty else {
            return try await bootstrap.bind(host: address.host, port: address.port).get()
        }
        do {
            return try await bootstrap.bind(host: "::", port: address.port).get()
        } catch let error as IOError where error.errnoCode == EAFNOSUPPORT || error.errnoCode == EADDRNOTAVAIL {
            return try await bootstrap.bind(host: "0.0.0.0", port: address.port).get()
        }
    }
}

/// Why the status endpoint could not listen, phrased for the person who set `--listen`.
public struct StatusServerError: Error, Sendable, CustomStringConvertible {
    public var address: ListenAddress
    /// The errno of the failed socket call, when there was one.
    public var errno: Int32?
    public var reason: String

    init(address: ListenAddress, underlying: any Error) {
        self.address = address
        switch underlying {
        case let error as IOError:
            errno = error.errnoCode
            switch error.errnoCode {
            case EADDRINUSE:
                reason = "address already in use — another process (or another podagent) listens on port "
                    + "\(address.port); choose a free port with --listen"
            case EACCES:
                reason = "permission denied — ports below 1024 need root or CAP_NET_BIND_SERVICE"
            case EADDRNOTAVAIL:
                reason = "address not available — `\(address.host)` is not an address of this host or pod"
            default:
                reason = String(cString: strerror(error.errnoCode))
            }
        case let error as SocketAddressError:
            errno = nil
            reason = "cannot resolve host `\(address.host)` (\(error))"
        default:
            errno = nil
            reason = "\(underlying)"
        }
    }

    public var description: String {
        "cannot listen on \(address): \(reason)"
    }
}

/// The answers of the endpoint, independent of NIO.
struct StatusRoutes: Sendable {
    let registry: PrometheusCollectorRegistry
    let readiness: Readiness
    /// Told each path a route answered, once the answer is written (see `StatusServer.bind`).
    var answered: (@Sendable (String) -> Void)? = nil

    struct Response {
        var status: HTTPResponseStatus
        var contentType = "text/plain; charset=utf-8"
        var body: [UInt8]
        var extraHeaders: [(String, String)] = []
        /// The route that answered; nil for a path podagent does not serve or a method it refuses.
        var route: String? = nil
    }

    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    func respond(method: HTTPMethod, uri: String) -> Response {
        // Probes and scrapers may add a query string; the path alone selects the answer.
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let known = ["/healthz", "/readyz", "/metrics"]
        guard known.contains(String(path)) else {
            return Response(status: .notFound, body: Array("not found: podagent serves /healthz, /readyz and /metrics\n".utf8))
        }
        guard method == .GET || method == .HEAD else {
            return Response(
                status: .methodNotAllowed, body: Array("method not allowed: use GET or HEAD\n".utf8),
                extraHeaders: [("Allow", "GET, HEAD")])
        }
        switch path {
        case "/healthz":
            return Response(status: .ok, body: Array("ok\n".utf8), route: "/healthz")
        case "/readyz":
            let pending = readiness.pendingReasons
            if pending.isEmpty {
                return Response(status: .ok, body: Array("ready\n".utf8), route: "/readyz")
            }
            return Response(
                status: .serviceUnavailable, body: Array("not ready: \(pending.joined(separator: "; "))\n".utf8),
                route: "/readyz")
        default:
            return Response(status: .ok, contentType: Self.metricsContentType, body: registry.emitToBuffer(), route: "/metrics")
        }
    }
}

/// What one client may make the status endpoint hold. Probes and Prometheus stay far below these;
/// a client that does not stays from podagent's memory and file descriptors.
public struct StatusServerLimits: Sendable {
    /// Open connections at once; further ones are closed on accept.
    public var maxConnections = 128
    /// Time to send a complete request, from the connection's start or the previous answer; then the
    /// connection is closed. It also ends idle keep-alive connections (Prometheus reconnects).
    public var requestTimeout = TimeAmount.seconds(30)

    public init() {}
}

/// Turns HTTP request parts into ``StatusRoutes`` answers; one per connection.
///
/// A client that sends requests without reading the answers is disconnected once podagent's unsent
/// bytes for it pass the channel's high watermark (64 KiB): its answers would otherwise pile up in memory.
final class StatusRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: StatusRoutes
    private let logger: Logger
    private let requestTimeout: TimeAmount
    private var request: HTTPRequestHead?
    private var timeout: Scheduled<Void>?

    init(routes: StatusRoutes, logger: Logger, requestTimeout: TimeAmount) {
        self.routes = routes
        self.logger = logger
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) { armTimeout(context: context) }

    /// Also when the connection closes: NIO removes every handler then.
    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable {
            logger.debug("status client does not read its answers; closing the connection")
            context.close(promise: nil)
        }
        context.fireChannelWritabilityChanged()
    }

    private func armTimeout(context: ChannelHandlerContext) {
        timeout?.cancel()
        let channel = context.channel
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            // No route takes a body; it is read and dropped so the connection stays usable.
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
            armTimeout(context: context)  // the next request on this connection has as long
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let response = routes.respond(method: head.method, uri: head.uri)
        logger.trace(
            "status request",
            metadata: ["method": "\(head.method)", "path": "\(head.uri)", "status": "\(response.status.code)"])

        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        for (name, value) in response.extraHeaders { headers.add(name: name, value: value) }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }

        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
            promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
        if let route = response.route, let answered = routes.answered {
            written.whenSuccess { answered(route) }
        }
    }
}

/// The open connections, so that shutdown can close keep-alive connections too (closing the
/// listening socket leaves accepted ones open, and a shared event loop would keep them alive).
final class ConnectionSet: Sendable {
    private let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let limit: Int

    init(limit: Int = .max) { self.limit = limit }

    /// Tracks `channel` until it closes; false (and not tracked) when `limit` are open already.
    func add(_ channel: any Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let added = open.withLockedValue { open in
            guard open.count < limit else { return false }
            open[key] = channel
            return true
        }
        if !added { return false }
        channel.closeFuture.whenComplete { [open] _ in
            _ = open.withLockedValue { $0.removeValue(forKey: key) }
        }
        return true
    }

    func closeAll() async {
        let channels = open.withLockedValue { Array($0.values) }
        for channel in channels {
            try? await channel.close()
        }
    }
}
