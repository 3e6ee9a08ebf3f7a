import Glibc
import NIOCore
import NIOSSL
import Testing
@testable import PodAgentKit

/// A pod root with a service-account volume holding `ca` and a token, as the kubelet lays it out.
private struct APISandbox {
    let dir = TemporaryDirectory("api")
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVtbzp3ZWIifQ.c2VjcmV0LXNpZ25hdHVyZS1jYW5hcnk"

    init(ca: PipeTestCA) throws {
        let directory = dir.file("var/run/secrets/kubernetes.io/serviceaccount")
        try FileSystem.makeDirectories(directory)
        try AtomicWriter(targetDirectory: directory).write([
            "ca.crt": FileProjection(data: try FileSystem.readFile(ca.caFile)),
            "token": FileProjection(text: token),
            "namespace": FileProjection(text: "demo"),
        ])
    }

    var paths: PodPaths { PodPaths(root: dir.path) }

    func everything(_ section: InspectSection) -> String {
        InspectReport(sections: [section]).text(colour: false) + InspectReport(sections: [section]).json().text
    }
}

private let versionJSON = #"{"major":"1","minor":"31","gitVersion":"v1.31.2","platform":"linux/amd64"}"#

@Suite("inspect: the API server, over real TLS")
struct InspectAPIServerTests {
    private func run(_ server: PipeHTTPServer, _ sandbox: APISandbox, checkPermissions: Bool = false,
                     caFile: String? = nil) async -> InspectSection {
        var target = APIServerTarget()
        target.url = server.url
        target.caFile = caFile
        target.checkPermissions = checkPermissions
        target.timeout = .seconds(5)
        let client = WebhookClient()
        let section = await APIServerInspection.inspect(target, paths: sandbox.paths, environment: [:], namespace: "demo",
                                                        client: client)
        await client.shutdown()
        return section
    }

    @Test("the right CA: TLS verified, /version read, the token sent but never shown")
    func rightCA() async throws {
        let ca = try await PipeTestCA("api-right")
        let sandbox = try APISandbox(ca: ca)
        defer { sandbox.dir.remove(); ca.directory.remove() }
        let server = try await PipeHTTPServer.start(PipeServerScript(byPath: ["/version": PipeAnswer(status: 200, body: versionJSON)]),
                                                    tls: try ca.serverContext())
        defer { Task { await server.stop() } }
        let section = await run(server, sandbox)
        #expect(section.value["tls"]?["verified"] == .bool(true), "\(section)")
        #expect(section.value["version"]?["gitVersion"] == .text("v1.31.2"))
        #expect(section.warnings.isEmpty, "\(section.warnings)")
        let request = try #require(server.requests.first)
        #expect(request.uri == "/version")
        #expect(request.header("Authorization") == "Bearer \(sandbox.token)")
        #expect(!sandbox.everything(section).contains("c2VjcmV0LXNpZ25hdHVyZS1jYW5hcnk"))
        #expect(!sandbox.everything(section).contains(String(sandbox.token.prefix(20))))
    }

    @Test("another CA: the handshake fails with a verification message, and nothing is sent")
    func otherCA() async throws {
        let ca = try await PipeTestCA("api-server")
        let other = try await PipeTestCA("api-other")
        let sandbox = try APISandbox(ca: other)
        defer { sandbox.dir.remove(); ca.directory.remove(); other.directory.remove() }
        let server = try await PipeHTTPServer.start(PipeServerScript(byPath: ["/version": PipeAnswer(status: 200, body: versionJSON)]),
                                                    tls: try ca.serverContext())
        defer { Task { await server.stop() } }
        let section = await run(server, sandbox)
        #expect(section.value["tls"]?["verified"] == .bool(false))
        #expect(section.warnings.contains { $0.contains("TLS verification failed") && $0.contains("not signed by a trusted CA") },
                "\(section.warnings)")
        #expect(server.requests.isEmpty, "a request went to a server whose certificate failed verification")
    }

    @Test("a missing CA file: no connection at all, and a warning saying why")
    func missingCA() async throws {
        let ca = try await PipeTestCA("api-missing")
        let sandbox = try APISandbox(ca: ca)
        defer { sandbox.dir.remove(); ca.directory.remove() }
        let server = try await PipeHTTPServer.start(PipeServerScript(), tls: try ca.serverContext())
        defer { Task { await server.stop() } }
        let section = await run(server, sandbox, caFile: "/etc/no-such-ca.crt")
        #expect(section.warnings.contains { $0.contains("does not connect without verification") }, "\(section.warnings)")
        #expect(server.requests.isEmpty)
    }

    @Test("401 and 403 are explained")
    func unauthorizedAndForbidden() async throws {
        let ca = try await PipeTestCA("api-401")
        let sandbox = try APISandbox(ca: ca)
        defer { sandbox.dir.remove(); ca.directory.remove() }
        let server = try await PipeHTTPServer.start(
            PipeServerScript(byPath: ["/version": PipeAnswer(status: 401, body: #"{"kind":"Status","code":401}"#)]),
            tls: try ca.serverContext())
        defer { Task { await server.stop() } }
        let unauthorized = await run(server, sandbox)
        #expect(unauthorized.warnings.contains { $0.contains("401 Unauthorized") && $0.contains("expired or revoked") },
                "\(unauthorized.warnings)")
        server.setScript(PipeServerScript(byPath: [
            "/version": PipeAnswer(status: 200, body: versionJSON),
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews": PipeAnswer(status: 403, body: "{}"),
        ]))
        let forbidden = await run(server, sandbox, checkPermissions: true)
        #expect(forbidden.warnings.contains { $0.contains("403 Forbidden") && $0.contains("create selfsubjectrulesreviews") },
                "\(forbidden.warnings)")
    }

    @Test("--check-permissions lists the service account's rules and flags a wildcard")
    func permissions() async throws {
        let ca = try await PipeTestCA("api-rules")
        let sandbox = try APISandbox(ca: ca)
        defer { sandbox.dir.remove(); ca.directory.remove() }
        let review = #"""
            {"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","spec":{},"status":{
              "resourceRules":[{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["configmaps"]},
                               {"verbs":["*"],"apiGroups":["*"],"resources":["*"]}],
              "nonResourceRules":[{"verbs":["get"],"nonResourceURLs":["/version","/healthz"]}],
              "incomplete":false}}
            """#
        let server = try await PipeHTTPServer.start(PipeServerScript(byPath: [
            "/version": PipeAnswer(status: 200, body: versionJSON),
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews": PipeAnswer(status: 201, body: review),
        ]), tls: try ca.serverContext())
        defer { Task { await server.stop() } }
        let section = await run(server, sandbox, checkPermissions: true)
        let rules = section.value["permissions"]?["resourceRules"]
        guard case .list(let list)? = rules else {
            Issue.record("no rules in \(section.value)")
            return
        }
        #expect(list.count == 2)
        #expect(list.first?["resources"] == .list([.text("configmaps")]))
        #expect(section.rows.contains { $0.label == "get,list,watch" && $0.value.contains("configmaps") })
        #expect(section.warnings.contains { $0.contains("verbs * on resources *") })
        let post = try #require(server.requests.first { $0.method == "POST" })
        #expect(post.header("Content-Type") == "application/json")
    }

    @Test("the in-cluster address comes from the kubelet's env, an IPv6 host in brackets")
    func addressFromEnvironment() async throws {
        let sandbox = APISandboxWithoutCA()
        defer { sandbox.dir.remove() }
        var target = APIServerTarget()
        target.timeout = .milliseconds(300)
        let section = await APIServerInspection.inspect(
            target, paths: PodPaths(root: sandbox.dir.path),
            environment: ["KUBERNETES_SERVICE_HOST": Array("fd00:10:96::1".utf8), "KUBERNETES_SERVICE_PORT": Array("6443".utf8)],
            namespace: nil)
        #expect(section.value["address"] == .text("https://[fd00:10:96::1]:6443"))
        #expect(section.warnings.contains { $0.contains("does not connect without verification") })
    }
}

private struct APISandboxWithoutCA {
    let dir = TemporaryDirectory("api-noca")
}
