import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing

@testable import PodAgentKit

// MARK: - A real HTTP(S) server on 127.0.0.1 that records requests and answers as told

/// One request as the server saw it.
struct PipeRecordedRequest: Sendable {
    var method: String
    var uri: String
    var headers: [(name: String, value: String)]
    var receivedAt: ContinuousClock.Instant

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The `Podagent-Trigger` header, i.e. which reload sent this request.
    var trigger: Int? { header("Podagent-Trigger").flatMap { Int($0) } }
}

/// What the server answers, in order: `failures` requests get `failureStatus`, the rest `status`.
struct PipeServerScript: Sendable {
    var status = 200
    var body = "ok"
    var failures = 0
    var failureStatus = 500
    var failureBody = "receiver says no"
    /// Requests from these triggers always get `failureStatus`.
    var failingTriggers: Set<Int> = []
    /// Never answer (for timeouts).
    var hang = false
    /// Answers by request path (without the query), taking precedence over the rest.
    var byPath: [String: PipeAnswer] = [:]
}

/// A status and body for ``PipeServerScript/byPath``.
struct PipeAnswer: Sendable {
    var status: Int
    var body: String
}

/// A tiny NIO HTTP/1.1 server bound to 127.0.0.1 on a random port, plain or TLS.
final class PipeHTTPServer: Sendable {
    fileprivate struct State {
        var script: PipeServerScript
        var requests: [PipeRecordedRequest] = []
    }

    let port: Int
    let scheme: String
    private let state: NIOLockedValueBox<State>
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    var url: String { "\(scheme)://127.0.0.1:\(port)" }

    static func start(_ script: PipeServerScript = PipeServerScript(), tls: NIOSSLContext? = nil) async throws
        -> PipeHTTPServer
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = NIOLockedValueBox(State(script: script))
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(PipeRecordingHandler(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return PipeHTTPServer(
            port: channel.localAddress!.port!, scheme: tls == nil ? "http" : "https", state: state, channel: channel,
            group: group)
    }

    private init(
        port: Int, scheme: String, state: NIOLockedValueBox<State>, channel: any Channel,
        group: MultiThreadedEventLoopGroup
    ) {
        self.port = port
        self.scheme = scheme
        self.state = state
        self.channel = channel
        self.group = group
    }

    var requests: [PipeRecordedRequest] { state.withLockedValue { $0.requests } }

    func setScript(_ script: PipeServerScript) { state.withLockedValue { $0.script = script } }

    /// Waits (polling, bounded) until the server has seen `count` requests; returns what it saw.
    func waitForRequests(_ count: Int, within limit: Duration = .seconds(30)) async throws -> [PipeRecordedRequest] {
        let deadline = ContinuousClock.now + limit
        while requests.count < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        return requests
    }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    /// The handler's view of the state: record a request, decide its answer.
    fileprivate final class PipeRecordingHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let state: NIOLockedValueBox<State>
        private var head: HTTPRequestHead?

        init(state: NIOLockedValueBox<State>) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
            case .body:
                break
            case .end:
                guard let head else { return }
                let request = PipeRecordedRequest(
                    method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                    receivedAt: .now)
                let answer: (status: Int, body: String)? = state.withLockedValue { state in
                    state.requests.append(request)
                    let script = state.script
                    if script.hang { return nil }
                    let path = String(request.uri.split(separator: "?", maxSplits: 1).first ?? "")
                    if let answer = script.byPath[path] { return (answer.status, answer.body) }
                    if let trigger = request.trigger, script.failingTriggers.contains(trigger) {
                        return (script.failureStatus, script.failureBody)
                    }
                    if script.failures > 0 {
                        state.script.failures -= 1
                        return (script.failureStatus, script.failureBody)
                    }
                    return (script.status, script.body)
                }
                guard let answer else { return }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "\(answer.body.utf8.count)")
                if (300...399).contains(answer.status) { headers.add(name: "Location", value: "/elsewhere") }
                let responseHead = HTTPResponseHead(
                    version: head.version, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

/// The timeout of a request that is not meant to time out: long, because it costs nothing when the
/// request is answered, and in a full parallel run on 2 cores a test's task has waited ~10 s for a
/// cooperative thread before connecting (CI, once: a refused connection reported as timed out after 10 s).
let unreachedTimeout: Duration = .seconds(60)

/// A throw-away CA and a server certificate for 127.0.0.1, made by the real `openssl` command.
struct PipeTestCA {
    let directory: TemporaryDirectory
    var caFile: String { directory.file("ca.pem") }
    var certificateFile: String { directory.file("server.pem") }
    var keyFile: String { directory.file("server.key") }

    init(_ label: String, serverNames: String = "IP:127.0.0.1,DNS:localhost") async throws {
        directory = TemporaryDirectory("pipe-ca-\(label)")
        let d = directory.path
        directory.write("server.ext", "subjectAltName=\(serverNames)\nextendedKeyUsage=serverAuth\n")
        let script = """
            set -e
            cd '\(d)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
              -days 2 -subj /CN=podagent-test-ca-\(label) \
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
              -subj /CN=127.0.0.1
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
              -extfile server.ext
            """
        // Waited for off the cooperative pool (runProcess): key generation under a loaded run takes long.
        let result = await runProcess(["/bin/sh", "-c", script], directory: directory,
                                      environment: ["PATH=/usr/local/bin:/usr/bin:/bin"])
        try #require(result.status == 0, "openssl failed: \(result.stderr)")
    }

    func serverContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}

/// A port on 127.0.0.1 where nothing listens: bound but not listening, so a connect is refused. `holder`
/// keeps it bound until the caller closes it: a port merely found free could be handed to another test's
/// server meanwhile (it was, once, and the two tests talked to each other).
func pipeClosedPort() throws -> (port: Int, holder: Int32) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    if !bound { close(fd) }
    try #require(bound)
    return (Int(UInt16(bigEndian: address.sin_port)), fd)
}

// MARK: - Tests

@Suite("Webhook action")
struct WebhookActionTests {
    @Test func deliversMethodPathHeadersAndTrigger() async throws {
        let server = try await PipeHTTPServer.start()
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let action = try WebhookAction(
            url: server.url + "/-/reload?source=podagent", method: "put",
            headers: [try WebhookHeader(parsing: "Authorization: Bearer t0ken"), try WebhookHeader(parsing: "X-Team:ops")],
            timeout: unreachedTimeout, client: client)
        try await action.perform(for: ReloadTrigger(sequence: 42, firstCommitSeen: nil, summary: "x"))
        await client.shutdown()

        let requests = server.requests
        try #require(requests.count == 1)
        #expect(requests[0].method == "PUT")
        #expect(requests[0].uri == "/-/reload?source=podagent")
        #expect(requests[0].header("Authorization") == "Bearer t0ken")
        #expect(requests[0].header("X-Team") == "ops")
        #expect(requests[0].trigger == 42)
        #expect(requests[0].header("User-Agent") == "podagent/\(PodAgentVersion.string)")
    }

    @Test func userInfoInTheURLIsSentAsBasicAuthenticationAndNeverShown() async throws {
        let server = try await PipeHTTPServer.start()
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        // Percent-encoded as a URL must be: "pa/ss:w%rd" and a user with an "@".
        let withUser = server.url.replacingOccurrences(of: "http://", with: "http://ops%40team:pa%2Fss%3Aw%25rd@")
        let action = try WebhookAction(url: withUser + "/-/reload", timeout: unreachedTimeout, client: client)
        #expect(!action.summary.contains("pa") && !action.summary.contains("ops"), "\(action.summary)")
        try await action.perform(for: ReloadTrigger(sequence: 1, firstCommitSeen: nil, summary: "x"))
        // A given Authorization header wins over the URL's.
        let given = try WebhookAction(url: withUser + "/-/reload", headers: [try WebhookHeader(parsing: "Authorization: Bearer t0ken")],
                                      timeout: unreachedTimeout, client: client)
        try await given.perform(for: ReloadTrigger(sequence: 2, firstCommitSeen: nil, summary: "x"))
        await client.shutdown()
        let requests = server.requests
        try #require(requests.count == 2)
        #expect(requests[0].header("Authorization") == "Basic " + Base64.encode(Array("ops@team:pa/ss:w%rd".utf8)))
        #expect(requests[1].headers.filter { $0.name.lowercased() == "authorization" }.map(\.value) == ["Bearer t0ken"])
    }

    @Test func aPasswordWithAnUnencodedSlashIsRefusedWithoutQuotingIt() {
        let error = #expect(throws: WebhookConfigurationError.self) {
            _ = try WebhookAction(url: "http://admin:PASS/WORD@127.0.0.1:9090/-/reload", timeout: .seconds(1))
        }
        #expect(error.map { "\($0)" }?.contains("percent-encode") == true)
        #expect(error.map { "\($0)" }?.contains("PASS") == false)
        // Where the "port" is a number, the rest of the password would become a path to another host.
        let numeric = #expect(throws: WebhookConfigurationError.self) {
            _ = try WebhookAction(url: "http://admin:1234/5678@127.0.0.1:9090/-/reload", timeout: .seconds(1))
        }
        #expect(numeric.map { "\($0)" }.map { !$0.contains("1234") && !$0.contains("5678") } == true)
        for leaky in ["http://user:12/zq/xw@127.0.0.1:9090/hook", "http://user:12/@127.0.0.1:9090/hook", "http://user:12?xw@127.0.0.1/",
                      "http://user:12#xw@127.0.0.1/", "http://me@corp.example:12/xw@127.0.0.1:9090/hook", "http://me@corp.example:zq/xw@127.0.0.1/"] {
            let error = #expect(throws: WebhookConfigurationError.self, "\(leaky)") { _ = try WebhookAction(url: leaky, timeout: .seconds(1)) }
            #expect(error.map { "\($0)" }.map { !$0.contains("xw") && !$0.contains("zq") && !$0.contains("12") } == true, "\(leaky)")
        }
        #expect((try? WebhookAction(url: "http://127.0.0.1/hooks/user@example.com/notify", timeout: .seconds(1))) != nil)
        // With a port, an '@' later on is ambiguous and must be written %40.
        #expect((try? WebhookAction(url: "http://127.0.0.1:9090/hooks/user%40example.com", timeout: .seconds(1))) != nil)
        // An "@" in a path is no user info: such URLs are fine.
        #expect((try? WebhookAction(url: "http://127.0.0.1/users/@me", timeout: .seconds(1))) != nil)
        #expect((try? WebhookAction(url: "http://127.0.0.1/@scope%2Fpkg", timeout: .seconds(1))) != nil)
    }

    @Test func givenHostReplacesTheDefaultAndFramingHeadersAreTheClients() async throws {
        let server = try await PipeHTTPServer.start()
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let action = try WebhookAction(
            url: server.url + "/hook",
            headers: [
                try WebhookHeader(parsing: "Host: first.example"), try WebhookHeader(parsing: "Content-Length: 99"),
                try WebhookHeader(parsing: "host: reload.example"), try WebhookHeader(parsing: "Transfer-Encoding: chunked"),
            ],
            timeout: unreachedTimeout, client: client)
        for sequence in [1, 2] {
            try await action.perform(for: ReloadTrigger(sequence: sequence, firstCommitSeen: nil, summary: "x"))
        }
        await client.shutdown()

        let requests = server.requests
        try #require(requests.count == 2)
        for (index, request) in requests.enumerated() {
            let names = request.headers.map { $0.name.lowercased() }
            #expect(names.filter { $0 == "host" }.count == 1, "\(request.headers)")
            #expect(request.header("Host") == "reload.example")
            #expect(request.header("Content-Length") == "0")
            #expect(!names.contains("transfer-encoding"))
            #expect(request.trigger == index + 1)
        }
    }

    @Test func defaultMethodIsPostAndAny2xxIsSuccess() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(status: 202, body: ""))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let action = try WebhookAction(url: server.url + "/hook", timeout: unreachedTimeout, client: client)
        try await action.perform()
        await client.shutdown()
        #expect(server.requests.map(\.method) == ["POST"])
    }

    @Test func unexpectedStatusNamesStatusAndAtMost200BytesOfBody() async throws {
        let body = "config rejected: " + String(repeating: "x", count: 1000)
        let server = try await PipeHTTPServer.start(PipeServerScript(status: 503, body: body))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let action = try WebhookAction(url: server.url + "/hook", timeout: unreachedTimeout, client: client)
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        await client.shutdown()

        guard case .unexpectedStatus(let code, let bodyStart) = error.reason else {
            Issue.record("expected an unexpected-status error, got \(error)")
            return
        }
        #expect(code == 503)
        #expect(bodyStart.utf8.count == 200)
        #expect(bodyStart.hasPrefix("config rejected: xxx"))
        #expect(error.description.contains("answered 503, expected 2xx"))
        #expect(error.description.contains(server.url + "/hook"))
    }

    @Test func expectedStatusListDecidesSuccess() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(status: 204, body: ""))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let accepting = try WebhookAction(
            url: server.url, expectedStatus: try ExpectedStatus(parsing: "200, 204"), timeout: unreachedTimeout,
            client: client)
        try await accepting.perform()

        let strict = try WebhookAction(
            url: server.url, expectedStatus: try ExpectedStatus(parsing: "200"), timeout: unreachedTimeout, client: client)
        let error = try await #require(throws: WebhookError.self) { try await strict.perform() }
        #expect(error.reason == .unexpectedStatus(code: 204, bodyStart: ""))
        await client.shutdown()
    }

    @Test func redirectIsNotFollowed() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(status: 302, body: ""))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let action = try WebhookAction(
            url: server.url + "/hook", headers: [try WebhookHeader(parsing: "Authorization: Bearer t0ken")],
            timeout: unreachedTimeout, client: client)
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        await client.shutdown()
        #expect(error.reason == .unexpectedStatus(code: 302, bodyStart: ""))
        #expect(server.requests.map(\.uri) == ["/hook"])  // /elsewhere never asked
    }

    @Test func connectionRefusedSaysSoWithTheURL() async throws {
        let (port, holder) = try pipeClosedPort()
        defer { close(holder) }
        let client = WebhookClient()
        let action = try WebhookAction(url: "http://127.0.0.1:\(port)/reload", timeout: unreachedTimeout, client: client)
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        await client.shutdown()
        #expect(error.reason == .connectionRefused)
        #expect(error.description.contains("http://127.0.0.1:\(port)/reload"))
        #expect(error.description.contains("connection refused"))
    }

    @Test func requestTimesOut() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(hang: true))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        // The case under test is a request that went out and got no answer. The timeout covers connecting
        // and writing too, and in a full parallel run on 2 cores this test's task has waited over 3 s for a
        // cooperative thread between connecting and writing (CI, once): a correct timeout, but of the
        // connecting case, so the request is sent again under a new path until one goes out.
        var sent = false
        for attempt in 1...3 where !sent {
            let path = "/hook-\(attempt)"
            let action = try WebhookAction(url: server.url + path, timeout: .seconds(3), client: client)
            let error = try await #require(throws: WebhookError.self) { try await action.perform() }
            #expect(error.reason == .timedOut(after: .seconds(3)))
            #expect(error.description.hasSuffix("timed out after 3s"))
            _ = try await server.waitForRequests(attempt, within: .seconds(2))
            sent = server.requests.contains { $0.uri == path }
        }
        await client.shutdown()
        #expect(sent, "no attempt's request reached the server before its timeout")
    }

    @Test func httpsVerifiesAgainstThePinnedCA() async throws {
        let ca = try await PipeTestCA("good")
        defer { ca.directory.remove() }
        let server = try await PipeHTTPServer.start(tls: try ca.serverContext())
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let action = try WebhookAction(url: server.url + "/tls", timeout: unreachedTimeout, caFile: ca.caFile, client: client)
        try await action.perform()
        await client.shutdown()
        #expect(server.requests.map(\.uri) == ["/tls"])
    }

    @Test func httpsRefusesAServerNotSignedByATrustedCA() async throws {
        let ca = try await PipeTestCA("server")
        let other = try await PipeTestCA("other")
        defer {
            ca.directory.remove()
            other.directory.remove()
        }
        let server = try await PipeHTTPServer.start(tls: try ca.serverContext())
        let client = WebhookClient()
        defer { Task { await server.stop() } }

        // The system trust store does not know the test CA.
        let systemStore = try WebhookAction(url: server.url, timeout: unreachedTimeout, client: client)
        let systemError = try await #require(throws: WebhookError.self) { try await systemStore.perform() }
        // A CA file pins that CA alone.
        let wrongCA = try WebhookAction(url: server.url, timeout: unreachedTimeout, caFile: other.caFile, client: client)
        let pinnedError = try await #require(throws: WebhookError.self) { try await wrongCA.perform() }
        await client.shutdown()

        for error in [systemError, pinnedError] {
            guard case .tls = error.reason else {
                Issue.record("expected a TLS failure, got \(error)")
                continue
            }
            #expect(error.description.contains("TLS failed: the server's certificate is not signed by a trusted CA"))
        }
        #expect(server.requests.isEmpty)
    }

    @Test func httpsRefusesACertificateForAnotherHost() async throws {
        let ca = try await PipeTestCA("name", serverNames: "DNS:reloader.example")
        defer { ca.directory.remove() }
        let server = try await PipeHTTPServer.start(tls: try ca.serverContext())
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let action = try WebhookAction(url: server.url, timeout: unreachedTimeout, caFile: ca.caFile, client: client)
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        await client.shutdown()
        guard case .tls(let detail) = error.reason else {
            Issue.record("expected a TLS failure, got \(error)")
            return
        }
        #expect(detail.contains("not valid for this host name"))
        #expect(server.requests.isEmpty)
    }

    @Test func clientIsCreatedOnFirstUseAndRefusesAfterShutdown() async throws {
        let server = try await PipeHTTPServer.start()
        defer { Task { await server.stop() } }
        let client = WebhookClient()
        let action = try WebhookAction(url: server.url, timeout: unreachedTimeout, client: client)
        #expect(!client.hasStarted)
        try await action.perform()
        #expect(client.hasStarted)
        await client.shutdown()
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        #expect(error.reason == .shutDown)
        #expect(server.requests.count == 1)
    }

    @Test func clientDroppedWithoutShutdownClosesItself() async throws {
        let server = try await PipeHTTPServer.start()
        defer { Task { await server.stop() } }
        do {
            let client = WebhookClient()
            try await WebhookAction(url: server.url, timeout: unreachedTimeout, client: client).perform()
        }  // freed here: its kept-alive connection is closed by deinit
        #expect(server.requests.count == 1)
    }

    @Test func summaryAndErrorsShowHeaderNamesButNeverValuesNorQueryOrUserInfo() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(status: 500))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let url = "http://user:pa55@127.0.0.1:\(server.port)/reload?token=s3cr3t"
        let action = try WebhookAction(
            url: url, headers: [try WebhookHeader(parsing: "Authorization: Bearer s3cr3t")], timeout: unreachedTimeout,
            client: client)
        let error = try await #require(throws: WebhookError.self) { try await action.perform() }
        await client.shutdown()

        #expect(action.displayURL == "http://127.0.0.1:\(server.port)/reload?…")
        #expect(action.summary == "POST http://127.0.0.1:\(server.port)/reload?… (headers: Authorization; expect 2xx; timeout 1m)")
        #expect(action.step().name == "webhook POST http://127.0.0.1:\(server.port)/reload?…")
        for text in [action.summary, error.description, action.step().name] {
            #expect(!text.contains("s3cr3t"))
            #expect(!text.contains("pa55"))
        }
        #expect(server.requests.first?.uri == "/reload?token=s3cr3t")  // the real URL was used
    }
}

@Suite("Webhook configuration")
struct WebhookConfigurationTests {
    @Test(arguments: [
        ("2xx", [200, 204, 299], [199, 300, 500]),
        ("200,204", [200, 204], [201, 203, 205]),
        ("200-202, 304", [200, 201, 202, 304], [203, 303, 305]),
        ("5XX", [500, 503], [499, 200]),
    ])
    func expectedStatusMatches(text: String, matching: [Int], notMatching: [Int]) throws {
        let expected = try ExpectedStatus(parsing: text)
        for code in matching { #expect(expected.matches(code), "\(text) should match \(code)") }
        for code in notMatching { #expect(!expected.matches(code), "\(text) should not match \(code)") }
    }

    @Test(arguments: ["", "2", "20x", "6xx", "abc", "299-200", "200,", "99", "1000", "200-"])
    func expectedStatusRejects(text: String) {
        #expect(throws: WebhookConfigurationError.self) { try ExpectedStatus(parsing: text) }
    }

    @Test func headerParsing() throws {
        let header = try WebhookHeader(parsing: "X-Token:   abc: def  ")
        #expect(header.name == "X-Token")
        #expect(header.value == "abc: def")
        #expect(throws: WebhookConfigurationError.self) { try WebhookHeader(parsing: "no colon") }
        #expect(throws: WebhookConfigurationError.self) { try WebhookHeader(parsing: "Bad Name: x") }
        #expect(throws: WebhookConfigurationError.self) { try WebhookHeader(parsing: ": x") }
        #expect(throws: WebhookConfigurationError.self) { try WebhookHeader(name: "X-A", value: "a\r\nX-B: b") }
        // The client no longer re-validates headers per request, so every control character but HTAB
        // must be refused here, when the flags are parsed.
        for byte: UInt8 in [0x00, 0x01, 0x08, 0x0B, 0x1B, 0x1F, 0x7F] {
            let value = "a" + String(decoding: [byte], as: UTF8.self) + "b"
            #expect(throws: WebhookConfigurationError.self) { try WebhookHeader(name: "X-A", value: value) }
        }
        #expect(try WebhookHeader(name: "X-A", value: "a\tb é").value == "a\tb é")
    }

    @Test func urlAndOptionValidation() throws {
        let client = WebhookClient()
        #expect(throws: WebhookConfigurationError.self) { try WebhookAction(url: "ftp://host/x", client: client) }
        #expect(throws: WebhookConfigurationError.self) { try WebhookAction(url: "http:///path", client: client) }
        #expect(throws: WebhookConfigurationError.self) { try WebhookAction(url: "http://host/a b", client: client) }
        #expect(throws: WebhookConfigurationError.self) {
            try WebhookAction(url: "http://host/", method: "GE T", client: client)
        }
        #expect(throws: WebhookConfigurationError.self) {
            try WebhookAction(url: "http://host/", timeout: .zero, client: client)
        }
        #expect(throws: WebhookConfigurationError.self) {
            try WebhookAction(url: "http://host/", caFile: "/etc/hostname", client: client)  // CA for plain http
        }
        let missing = #expect(throws: WebhookConfigurationError.self) {
            try WebhookAction(url: "https://host/", caFile: "/nonexistent/ca.pem", client: client)
        }
        #expect(missing?.description.contains("/nonexistent/ca.pem") == true)
        let notPEM = #expect(throws: WebhookConfigurationError.self) {
            try WebhookAction(url: "https://host/", caFile: "/etc/hostname", client: client)
        }
        #expect(notPEM?.description.contains("/etc/hostname") == true)
        #expect(!client.hasStarted)  // validation never starts the client
    }
}
