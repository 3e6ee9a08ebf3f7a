import Testing
@testable import PodAgentKit

/// Which variables `podagent env` makes from the pod data tree, and how keys become names.
@Suite struct ExportEnvVariablesTests {
    /// A tree shaped like `PodView.value`, with every field known.
    static let fullPod: PodValue = .object([
        .init("pod", .object([
            .init("name", .text("web-0")),
            .init("namespace", .text("shop")),
            .init("uid", .text("0f1e2d3c-aaaa-bbbb-cccc-123456789abc")),
            .init("ip", .text("10.1.2.3")),
            .init("ips", .list([.text("10.1.2.3"), .text("fd00::3")])),
            .init("node", .text("node-a")),
            .init("hostIP", .text("192.168.0.7")),
            .init("serviceAccount", .text("web")),
        ])),
        .init("labels", .object([.init("app.kubernetes.io/name", .text("web")), .init("tier", .text("front"))])),
        .init("annotations", .object([.init("example.com/log-level", .text("debug"))])),
        .init("resources", .object([
            .init("requests", .object([.init("cpuMillicores", .integer(250)), .init("memoryBytes", .integer(67_108_864)),
                                       .init("ephemeralStorageBytes", .integer(1_000_000_000))])),
            .init("limits", .object([.init("cpuMillicores", .integer(1500)), .init("memoryBytes", .integer(134_217_728)),
                                     .init("ephemeralStorageBytes", .integer(2_000_000_000))])),
        ])),
        .init("cgroup", .object([.init("version", .integer(2)), .init("cpuMillicores", .integer(1500)),
                                 .init("memoryBytes", .integer(134_217_728))])),
        .init("cpus", .integer(2)),
    ])

    @Test func fullTreeGivesEveryVariableInOrderWithItsValue() throws {
        let env = try EnvVariables(pod: Self.fullPod)
        let pairs = env.variables.map { "\($0.name)=\(String(decoding: $0.value, as: UTF8.self))" }
        #expect(pairs == [
            "POD_NAME=web-0", "POD_NAMESPACE=shop", "POD_UID=0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
            "POD_IP=10.1.2.3", "POD_IPS=10.1.2.3,fd00::3", "POD_NODE_NAME=node-a", "POD_HOST_IP=192.168.0.7",
            "POD_SERVICE_ACCOUNT=web",
            "POD_CPU_REQUEST_MILLICORES=250", "POD_CPU_LIMIT_MILLICORES=1500",
            "POD_MEMORY_REQUEST_BYTES=67108864", "POD_MEMORY_LIMIT_BYTES=134217728",
            "POD_EPHEMERAL_STORAGE_REQUEST_BYTES=1000000000", "POD_EPHEMERAL_STORAGE_LIMIT_BYTES=2000000000",
            "POD_CGROUP_CPU_MILLICORES=1500", "POD_CGROUP_MEMORY_BYTES=134217728", "POD_CPUS=2",
            "POD_LABEL_APP_KUBERNETES_IO_NAME=web", "POD_LABEL_TIER=front",
            "POD_ANNOTATION_EXAMPLE_COM_LOG_LEVEL=debug",
        ])
        #expect(env.collisions.isEmpty)
    }

    @Test func nullAndAbsentValuesAreLeftOut() throws {
        let pod: PodValue = .object([
            .init("pod", .object([.init("name", .text("web-0")), .init("ip", .null), .init("ips", .list([]))])),
            .init("labels", .null),
            .init("cgroup", .object([.init("cpuMillicores", .null), .init("memoryBytes", .integer(1024))])),
            .init("cpus", .null),
        ])
        let env = try EnvVariables(pod: pod)
        #expect(env.variables.map(\.name) == ["POD_NAME", "POD_CGROUP_MEMORY_BYTES"])
    }

    @Test func prefixReplacesPOD() throws {
        let env = try EnvVariables(pod: Self.fullPod, prefix: "APP_")
        #expect(env.variables.first?.name == "APP_NAME")
        #expect(env.variables.last?.name == "APP_ANNOTATION_EXAMPLE_COM_LOG_LEVEL")
    }

    @Test func emptyPrefixGivesBareNames() throws {
        let env = try EnvVariables(pod: Self.fullPod, prefix: "")
        #expect(env.variables.map(\.name).contains("CPUS"))
        #expect(env.variables.map(\.name).contains("LABEL_TIER"))
    }

    @Test(arguments: ["my-app_", "1X", "A B", "É_"])
    func prefixThatCannotStartAShellNameIsRejected(prefix: String) {
        #expect(throws: EnvPrefixError(prefix: prefix)) { try EnvVariables(pod: Self.fullPod, prefix: prefix) }
    }

    @Test(arguments: [
        ("app.kubernetes.io/name", "APP_KUBERNETES_IO_NAME"),
        ("a--b", "A__B"),
        ("Team_Owner", "TEAM_OWNER"),
        ("v1.2", "V1_2"),
        ("-lead.trail-", "_LEAD_TRAIL_"),
        ("é", "__"),
    ])
    func keySanitisingUppercasesAndMapsEveryOtherByteToUnderscore(key: String, expected: String) {
        #expect(EnvVariables.sanitizedKey(key) == expected)
    }

    @Test func collidingKeysKeepTheFirstInByteOrderWhateverTheInputOrder() throws {
        let forward: PodValue = .object([.init("labels", .object([.init("a-b", .text("dash")), .init("a.b", .text("dot"))]))])
        let backward: PodValue = .object([.init("labels", .object([.init("a.b", .text("dot")), .init("a-b", .text("dash"))]))])
        for pod in [forward, backward] {
            let env = try EnvVariables(pod: pod)
            #expect(env.variables.map(\.value) == [Array("dash".utf8)])
            #expect(env.collisions == [EnvNameCollision(name: "POD_LABEL_A_B", kept: .label("a-b"), dropped: .label("a.b"))])
        }
    }

    @Test func keysDifferingOnlyInCaseCollideAndUppercaseWins() throws {
        let pod: PodValue = .object([.init("annotations", .object([.init("app", .text("lower")), .init("App", .text("upper"))]))])
        let env = try EnvVariables(pod: pod)
        #expect(env.variables.map(\.value) == [Array("upper".utf8)])
        #expect(env.collisions == [EnvNameCollision(name: "POD_ANNOTATION_APP", kept: .annotation("App"), dropped: .annotation("app"))])
    }

    @Test func everyLosingKeyOfAThreeWayCollisionIsReported() throws {
        let pod: PodValue = .object([.init("labels", .object([
            .init("a_b", .text("3")), .init("a.b", .text("2")), .init("a-b", .text("1")),
        ]))])
        let env = try EnvVariables(pod: pod)
        #expect(env.collisions.map(\.dropped) == [.label("a.b"), .label("a_b")])
        #expect(env.collisions.allSatisfy { $0.kept == .label("a-b") })
    }

    @Test func labelAndAnnotationWithTheSameKeyDoNotCollide() throws {
        let pod: PodValue = .object([
            .init("labels", .object([.init("team", .text("a"))])),
            .init("annotations", .object([.init("team", .text("b"))])),
        ])
        let env = try EnvVariables(pod: pod)
        #expect(env.variables.map(\.name) == ["POD_LABEL_TEAM", "POD_ANNOTATION_TEAM"])
        #expect(env.collisions.isEmpty)
    }

    @Test func collisionWarningNamesBothOriginalKeys() {
        let text = EnvNameCollision(name: "POD_LABEL_A_B", kept: .label("a-b"), dropped: .label("a.b")).description
        #expect(text.contains(#"label "a-b""#) && text.contains(#"label "a.b""#) && text.contains("POD_LABEL_A_B"))
    }

    @Test func valueBytesAreKeptExactlyIncludingInvalidUTF8() throws {
        let raw: [UInt8] = [0x27, 0x0A, 0xFF, 0x24, 0x28]
        let pod: PodValue = .object([.init("annotations", .object([.init("blob", .string(raw))]))])
        #expect(try EnvVariables(pod: pod).variables.first?.value == raw)
    }
}
