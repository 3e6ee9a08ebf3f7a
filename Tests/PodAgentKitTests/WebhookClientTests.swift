import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing

@testable import PodAgentKit

// MARK: - A server that counts connections and misbehaves on request

/// How ``ConnectionCountingServer`` treats one request.
enum ServerMove: Sendable {
    /// Answer with `status` and `body`, in one Content-Length body or in `chunks`; then close the connection
    /// if `thenClose` (without saying so in the answer, as a server's idle timeout would).
    case answer(status: Int = 200, body: String = "ok", chunked: Bool = false, thenClose: Bool = false)
    /// Close the connection without answering.
    case closeWithoutAnswer
    /// Never answer.
    case hang
}

/// A NIO HTTP/1.1 server on a loopback address that records every request with the connection it came on.
final class ConnectionCountingServer: Sendable {
    struct Seen: Sendable {
        var connection: Int
        var method: String
        var uri: String
        var host: String?
    }

    private struct State {
        var connections = 0
        var seen: [Seen] = []
    }

    let port: Int
    let host: String
    let scheme: String
    private let state: NIOLockedValueBox<State>
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    /// `move(n, k, c)` decides the answer to the n-th request (0-based, over all connections), the k-th on
    /// its connection (0-based), which is the server's c-th connection (1-based).
    static func start(
        host: String = "127.0.0.1", tls: NIOSSLContext? = nil,
        move: @escaping @Sendable (_ request: Int, _ onConnection: Int, _ connection: Int) -> ServerMove = { _, _, _ in .answer() },
        byPath: @escaping @Sendable (_ uri: String) -> ServerMove? = { _ in nil }
    ) async throws -> ConnectionCountingServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = NIOLockedValueBox(State())
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = state.withLockedValue { state in
                        state.connections += 1
                        return state.connections
                    }
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(connection: number, state: state, move: move, byPath: byPath))
                }
            }
            .bind(host: host, port: 0).get()
        return ConnectionCountingServer(
            port: channel.localAddress!.port!, host: host, scheme: tls == nil ? "http" : "https", state: state,
            channel: channel, group: group)
    }

    private init(
        port: Int, host: String, scheme: String, state: NIOLockedValueBox<State>, channel: any Channel,
        group: MultiThreadedEventLoopGroup
    ) {
        self.port = port
        self.host = host
        self.scheme = scheme
        self.state = state
        self.channel = channel
        self.group = group
    }

    var url: String { "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
    var connections: Int { state.withLockedValue { $0.connections } }
    var seen: [Seen] { state.withLockedValue { $0.seen } }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let connection: Int
        let state: NIOLockedValueBox<State>
        let move: @Sendable (Int, Int, Int) -> ServerMove
        let byPath: @Sendable (String) -> ServerMove?
        var onConnection = 0
        var head: HTTPRequestHead?

        init(connection: Int, state: NIOLockedValueBox<State>, move: @escaping @Sendable (Int, Int, Int) -> ServerMove,
             byPath: @escaping @Sendable (String) -> ServerMove?) {
            self.connection = connection
            self.state = state
            self.move = move
            self.byPath = byPath
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let index = state.withLockedValue { state in
                    state.seen.append(
                        Seen(
                            connection: connection, method: head.method.rawValue, uri: head.uri,
                            host: head.headers.first(name: "Host")))
                    return state.seen.count - 1
                }
                let next = byPath(head.uri) ?? move(index, onConnection, connection)
                onConnection += 1
                switch next {
                case .hang:
                    break
                case .closeWithoutAnswer:
                    context.close(promise: nil)
                case .answer(let status, let body, let chunked, let thenClose):
                    var headers = HTTPHeaders()
                    if chunked {
                        headers.add(name: "Transfer-Encoding", value: "chunked")
                    } else {
                        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                    }
                    let answer = HTTPResponseHead(
                        version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
                    context.write(wrapOutboundOut(.head(answer)), promise: nil)
                    if chunked {
                        // Several chunks, so the client has to put the body back together.
                        var rest = Substring(body)
                        while !rest.isEmpty {
                            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: String(rest.prefix(7)))))), promise: nil)
                            rest = rest.dropFirst(7)
                        }
                    } else if !body.isEmpty {
                        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                    }
                    let sent = context.writeAndFlush(wrapOutboundOut(.end(nil)))
                    if thenClose { sent.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
                }
            }
        }
    }
}

// MARK: - Tests

@Suite("Webhook client")
struct WebhookClientTests {
    @Test func oneKeptAliveConnectionCarriesEveryReload() async throws {
        let server = try await ConnectionCountingServer.start()
        let client = WebhookClient()
        let action = try WebhookAction(url: server.url + "/reload", timeout: unreachedTimeout, client: client)
        for _ in 0..<5 { try await action.perform() }
        #expect(client.idleConnectionCount == 1)
        await client.shutdown()
        await server.stop()
        #expect(server.seen.count == 5)
        #expect(server.connections == 1)
    }

    @Test func serverClosingTheIdleConnectionDoesNotFailTheNextReload() async throws {
        let server = try await ConnectionCountingServer.start { _, _, _ in .answer(thenClose: true) }
        let client = WebhookClient()
        let action = try WebhookAction(url: server.url, timeout: unreachedTimeout, client: client)
        try await action.perform()
        // The close arrives while podagent is idle: wait until the client has seen it (a fixed 100 ms was
        // not always enough with the whole suite running on 2 cores).
        #expect(await eventually(timeout: unreachedTimeout) { client.idleConnectionCount == 0 })
        try await action.perform()
        await client.shutdown()
        await server.stop()
        #expect(server.seen.count == 2)
        #expect(server.connections == 2)
    }

    @Test func idempotentRequestIsResentOnceWhenAKeptAliveConnectionClosesWithoutAnswer() async throws {
        // The second request on the first connection meets a server that closes instead of answering.
        let server = try await ConnectionCountingServer.start { _, onConnection, connection in
            connection == 1 && onConnection == 1 ? .closeWithoutAnswer : .answer()
        }
        let client = WebhookClient()
        let action = try WebhookAction(url: server.url + "/reload", method: "PUT", timeout: unreachedTimeout, client: client)
        try await action.perform()
        try await action.perform()
        await client.shutdown()
        await server.stop()
        #expect(server.seen.map(\.connection) == [1, 1, 2])
        #expect(server.seen.map(\.method) == ["PUT", "PUT", "PUT"])
    }

    @Test func postThatWentOutIsNeverResent() async throws {
        let server = try await ConnectionCountingServer.start { index, _, _ in
            index == 1 ? .closeWithoutAnswer : .answer()
        }
        let client = WebhookClient()
        let action = try WebhookAction(url: server.url + "/reload", timeout: unreachedTimeout, client: client)
        try await action.perform()
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        #expect(error.description.contains("closed the connection before answering"))
        try await Task.sleep(for: .milliseconds(50))
        await client.shutdown()
        await server.stop()
        #expect(server.seen.count == 2)  // the receiver may have reloaded: it is not asked twice
    }

    @Test func timeoutClosesTheConnection() async throws {
        // By path, not by arrival: under load the first request may not even reach the server in time.
        let server = try await ConnectionCountingServer.start(byPath: { $0 == "/first" ? .hang : nil })
        let client = WebhookClient()
        // Long enough for the request to reach the server even in a loaded test run: 3 s was not, once, in
        // a full parallel run on 2 cores (the request never arrived, so nothing was shown either way).
        let action = try WebhookAction(url: server.url + "/first", timeout: .seconds(8), client: client)
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        #expect(error.reason == .timedOut(after: .seconds(8)))
        // A fresh connection: a late answer to the first request cannot be mistaken for this one's.
        try await WebhookAction(url: server.url + "/second", timeout: unreachedTimeout, client: client).perform()
        await client.shutdown()
        await server.stop()
        let seen = server.seen
        #expect(seen.map(\.uri) == ["/first", "/second"])
        #expect(seen.count == 2 && seen[0].connection != seen[1].connection)
    }

    @Test func chunkedAnswersAreReadToTheirEndAndTheConnectionReused() async throws {
        let server = try await ConnectionCountingServer.start { index, _, _ in
            index == 0
                ? .answer(status: 200, body: "reloaded in several chunks", chunked: true)
                : .answer(status: 500, body: "config rejected: line 3: unknown directive", chunked: true)
        }
        let client = WebhookClient()
        let action = try WebhookAction(url: server.url, timeout: unreachedTimeout, client: client)
        try await action.perform()
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        #expect(error.reason == .unexpectedStatus(code: 500, bodyStart: "config rejected: line 3: unknown directive"))
        await client.shutdown()
        await server.stop()
        #expect(server.connections == 1)
    }

    @Test func ipv6LiteralHost() async throws {
        let server = try await ConnectionCountingServer.start(host: "::1")
        let client = WebhookClient()
        let action = try WebhookAction(url: "http://[::1]:\(server.port)/reload", timeout: unreachedTimeout, client: client)
        try await action.perform()
        await client.shutdown()
        await server.stop()
        #expect(server.seen.map(\.uri) == ["/reload"])
        #expect(server.seen.first?.host == "[::1]:\(server.port)")
    }

    @Test func hostNameIsResolved() async throws {
        let server = try await ConnectionCountingServer.start()
        let client = WebhookClient()
        let action = try WebhookAction(url: "http://localhost:\(server.port)/reload", timeout: unreachedTimeout, client: client)
        try await action.perform()
        try await action.perform()
        await client.shutdown()
        await server.stop()
        #expect(server.seen.map(\.host) == ["localhost:\(server.port)", "localhost:\(server.port)"])
        #expect(server.connections == 1)
    }

    @Test func httpsByHostNameVerifiesTheNameAndKeepsTheConnection() async throws {
        let ca = try await PipeTestCA("sni")  // the certificate names DNS:localhost and IP:127.0.0.1
        defer { ca.directory.remove() }
        let server = try await ConnectionCountingServer.start(tls: try ca.serverContext())
        let client = WebhookClient()
        let action = try WebhookAction(
            url: "https://localhost:\(server.port)/tls", timeout: unreachedTimeout, caFile: ca.caFile, client: client)
        try await action.perform()
        try await action.perform()
        await client.shutdown()
        await server.stop()
        #expect(server.seen.count == 2)
        #expect(server.connections == 1)
    }

    @Test func connectionsAreNotSharedBetweenDifferentTrust() async throws {
        let ca = try await PipeTestCA("trust")
        let other = try await PipeTestCA("trust-other")
        defer {
            ca.directory.remove()
            other.directory.remove()
        }
        let server = try await ConnectionCountingServer.start(tls: try ca.serverContext())
        let client = WebhookClient()
        try await WebhookAction(url: server.url, timeout: unreachedTimeout, caFile: ca.caFile, client: client).perform()
        // The connection verified against `ca` is alive, but a request pinning `other` must verify anew.
        let pinnedOther = try WebhookAction(url: server.url, timeout: unreachedTimeout, caFile: other.caFile, client: client)
        let error = try await #require(throws: WebhookError.self) { try await pinnedOther.perform() }
        guard case .tls = error.reason else {
            Issue.record("expected a TLS failure, got \(error)")
            return
        }
        await client.shutdown()
        await server.stop()
        #expect(server.seen.count == 1)
    }

    @Test func cancellingASendStuckInTheTCPConnectEndsItAtOnce() async throws {
        // A listener whose accept queue is full: the kernel drops further SYNs, so a connect hangs.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        #expect(bound == 0 && listen(listener, 0) == 0)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var fillers: [Int32] = []
        defer { for filler in fillers { close(filler) } }
        for _ in 0..<3 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) }
            }
            fillers.append(filler)
        }
        try await Task.sleep(for: .milliseconds(100))
        let client = WebhookClient()
        let action = try WebhookAction(url: "http://127.0.0.1:\(port)/reload", timeout: .seconds(30), client: client)
        let started = ContinuousClock.now
        let send = Task { try await action.perform() }
        try await Task.sleep(for: .milliseconds(500))
        send.cancel()  // what shutdown does to the step in flight
        let result = await send.result
        // Not a performance check: 30 s would mean the shutdown waited out the connect timeout.
        #expect(ContinuousClock.now - started < .seconds(10))
        guard case .failure(let error as WebhookError) = result, error.reason == .cancelled else {
            Issue.record("expected a cancelled send, got \(result)")
            return
        }
        await client.shutdown()
    }

    @Test(.enabled("needs root and `unshare --mount` (a private /etc/hosts), and ::1 on the loopback") {
        (try? await CommandRunner.run(PrivateHosts.prefix("/etc/hosts") + ["true"], timeout: unreachedTimeout))?.status == .exited(0)
            && (try? SocketAddress(ipAddress: "::1", port: 0)).map { address in
                let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(probe) }
                return address.withSockAddr { bind(probe, $0, socklen_t($1)) } == 0
            } == true
    })
    func aHostWhoseFirstAddressDropsPacketsIsReachedOnItsSecond() async throws {
        // A name with an IPv6 address that swallows SYNs before a working IPv4 one: the first address must
        // not get the whole --timeout, or the second is never tried.
        let dir = TemporaryDirectory("webhook-two-addresses")
        defer { dir.remove() }
        let hosts = dir.file("hosts")
        try FileSystem.writeFileAtomically(hosts, Array("::1 dual.test\n127.0.0.1 dual.test\n".utf8))
        // The order getaddrinfo gives (RFC 6724) decides which one podagent tries first; ask it the same way.
        let lookup = try await CommandRunner.run(PrivateHosts.prefix(hosts) + ["getent", "ahosts", "dual.test"], timeout: unreachedTimeout)
        var order: [String] = []
        for line in lookup.stdoutText.split(separator: "\n") where line.contains("STREAM") {
            order.append(String(line.split(separator: " ")[0]))
        }
        try #require(order.count == 2, "getent ahosts dual.test: \(lookup.stdoutText)")
        let server = try await ConnectionCountingServer.start(host: order[1])
        let dropper = try #require(SynDroppingListener(host: order[0], port: server.port), "cannot listen on [\(order[0])]:\(server.port)")
        defer { dropper.close() }

        let volume = dir.file("config")
        try FileSystem.makeDirectories(volume)
        try AtomicWriter(targetDirectory: volume).write(["app.conf": FileProjection(text: "v1")])
        let agent = try E2EAgent(["watch", "--dir", volume, "--webhook", "http://dual.test:\(server.port)/reload",
                                  "--timeout", "3s", "--retries", "1", "--reload-on-start", "--log-format", "json"],
                                 log: dir.file("podagent.log"), prefix: PrivateHosts.prefix(hosts))
        let reached = await eventually(timeout: unreachedTimeout) { server.seen.count == 1 }
        #expect(reached, "the second address was never tried: \(agent.log)")
        #expect(await eventually { agent.log.contains("\"result\":\"success\"") }, "\(agent.log)")
        #expect(await agent.stop() == .exited(0))
        await server.stop()
    }

    @Test func urlParts() throws {
        let plain = try WebhookURL(parsing: "http://user:pw@Example.test/a/b?x=1#frag")
        #expect(plain.host == "Example.test" && plain.port == 80 && !plain.isTLS)
        #expect(plain.requestTarget == "/a/b?x=1")
        #expect(plain.hostHeader == "Example.test")
        #expect(plain.display == "http://Example.test/a/b?…")

        let v6 = try WebhookURL(parsing: "https://[fd00::1]:8443")
        #expect(v6.host == "fd00::1" && v6.port == 8443 && v6.isTLS)
        #expect(v6.requestTarget == "/")
        #expect(v6.hostHeader == "[fd00::1]:8443")

        let defaultPort = try WebhookURL(parsing: "https://hooks.test:443/r")
        #expect(defaultPort.hostHeader == "hooks.test")

        for bad in ["http://host:0/", "http://host:65536/", "http://host:8x/", "http://[::1/", "http://[::1]x/"] {
            #expect(throws: WebhookConfigurationError.self, "\(bad)") { try WebhookURL(parsing: bad) }
        }
    }
}

/// Runs a command with its own view of /etc/hosts: a private mount namespace with `hosts` bound over it.
enum PrivateHosts {
    static func prefix(_ hosts: String) -> [String] {
        ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
         "mount --bind \"$0\" /etc/hosts && exec \"$@\"", hosts]
    }
}

/// A listener whose accept queue is full (backlog 0, filled by connections nobody accepts): the kernel
/// drops every further SYN to it, as a firewall or an unreachable address would.
final class SynDroppingListener {
    private var descriptors: [Int32] = []

    init?(host: String, port: Int) {
        guard let address = try? SocketAddress(ipAddress: host, port: port) else { return nil }
        let family = host.contains(":") ? AF_INET6 : AF_INET
        let listener = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        descriptors.append(listener)
        guard address.withSockAddr({ bind(listener, $0, socklen_t($1)) }) == 0, listen(listener, 0) == 0 else {
            close()
            return nil
        }
        for _ in 0..<3 {
            let filler = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            descriptors.append(filler)
            _ = address.withSockAddr { connect(filler, $0, socklen_t($1)) }
        }
        usleep(100_000)
    }

    func close() {
        for descriptor in descriptors { Glibc.close(descriptor) }
        descriptors = []
    }
}
