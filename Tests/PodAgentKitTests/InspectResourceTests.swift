// Specification of the resources section of `podagent inspect`: requests and limits as the downward API
// declares them beside the cgroup's enforced limits, read by PodView from real files (downward volume
// written by the project's AtomicWriter, crafted cgroup v2 files), and the warnings for the kubelet's traps.
import Testing

@testable import PodAgentKit

/// A pod sandbox with cgroup v2 limits (`nil` = no cgroup filesystem; `"max"` = unlimited).
private func view(
    env: [String: String] = [:], downward: [String: String] = [:], cpuMax: String? = "max 100000", memoryMax: String? = "max",
    declarations: [String] = []
) throws -> PodView {
    let pod = PodSandbox()
    defer { pod.remove() }
    if !downward.isEmpty { try pod.downwardVolume(downward.mapValues { Array($0.utf8) }) }
    if cpuMax != nil || memoryMax != nil { pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu memory") }
    if let cpuMax { pod.file("/sys/fs/cgroup/cpu.max", cpuMax + "\n") }
    if let memoryMax { pod.file("/sys/fs/cgroup/memory.max", memoryMax + "\n") }
    return try pod.load(env, declarations: declarations)
}

@Suite("inspect: resources")
struct InspectResourceTests {
    @Test("declared values come with their sources; cgroup limits beside them")
    func declaredBesideEffective() throws {
        let section = ResourceInspection.inspect(try view(
            env: ["CPU_LIMIT_MILLICORES": "2000", "MEMORY_LIMIT_BYTES": "268435456", "CPU_REQUEST_MILLICORES": "250"],
            cpuMax: "200000 100000", memoryMax: "268435456"))
        let limit = try #require(section.value["limits"]?["cpu"])
        #expect(limit["value"] == .integer(2000))
        #expect(limit["exact"] == .bool(true))
        #expect(limit["sources"] == .list([.object([
            .init("kind", .text("env")), .init("name", .text("CPU_LIMIT_MILLICORES")), .init("written", .integer(2000)), .init("divisor", .text("1m")),
        ])]))
        #expect(section.value["cgroup"]?["cpu"]?["millicores"] == .integer(2000))
        #expect(section.value["cgroup"]?["memory"]?["bytes"] == .integer(268_435_456))
        #expect(section.value["effectiveCPU"] == .object([.init("millicores", .integer(2000)), .init("source", .text("cgroup"))]))
        #expect(section.value["cpus"] == .integer(2))
        #expect(section.warnings.isEmpty)
    }

    @Test("a downward limit with an unlimited cgroup is the node's allocatable")
    func allocatable() throws {
        let section = ResourceInspection.inspect(try view(env: ["MEMORY_LIMIT_BYTES": "16777216000"]))
        #expect(section.warnings == [
            "limits.memory = 16777216000 bytes (env MEMORY_LIMIT_BYTES) but the cgroup has no memory limit: that value is the node's "
                + "allocatable, not a limit — do not size thread pools or heaps from it; set resources.limits.memory in the pod spec"
        ])
        #expect(section.value["cgroup"]?["memory"]?["limited"] == .bool(false))
    }

    @Test("without a cgroup filesystem a downward limit cannot be told from the node's allocatable")
    func allocatableUnknown() throws {
        let section = ResourceInspection.inspect(try view(env: ["MEMORY_LIMIT_BYTES": "1073741824"], cpuMax: nil, memoryMax: nil))
        #expect(section.warnings.count == 1)
        #expect(section.warnings.first?.contains("cannot be checked: no cgroup filesystem was found") == true)
        #expect(section.value["cgroup"] == .null)
    }

    @Test("a CPU quota that is not whole cores is a warning")
    func fractionalCores() throws {
        let section = ResourceInspection.inspect(try view(env: ["CPU_LIMIT_MILLICORES": "1500"], cpuMax: "150000 100000"))
        #expect(section.warnings == [
            "the cgroup CPU quota is 1500 millicores, not a whole number of cores: apps that round down get 1 CPU and leave 500m unused, "
                + "apps that round up get 2 and are throttled — prefer a limit that is a multiple of 1000m for CPU-bound pools"
        ])
    }

    @Test("a value rounded up by its divisor is an upper bound")
    func ceilRounding() throws {
        let section = ResourceInspection.inspect(try view(env: ["MEMORY_REQUEST_MEBIBYTES": "124"]))
        #expect(section.warnings.contains { $0.hasPrefix("requests.memory is an upper bound: divisor 1Mi rounds up") })
        #expect(section.value["requests"]?["memory"]?["exact"] == .bool(false))
        #expect(section.value["requests"]?["memory"]?["lowerBound"] == .integer(123 * 1_048_576 + 1))
    }

    @Test("a request above its limit means the sources are mixed up")
    func requestAboveLimit() throws {
        let section = ResourceInspection.inspect(try view(
            env: ["CPU_REQUEST_MILLICORES": "3000", "CPU_LIMIT_MILLICORES": "2000"], cpuMax: "200000 100000"))
        #expect(section.warnings == [
            "requests.cpu (3000 millicores, env CPU_REQUEST_MILLICORES) is above limits.cpu (2000 millicores, env CPU_LIMIT_MILLICORES): "
                + "impossible in a valid pod — the sources are mixed up; check that each env var or file is the field and unit its name says"
        ])
    }

    @Test("a downward limit the cgroup does not match is a warning")
    func downwardDiffersFromCgroup() throws {
        let section = ResourceInspection.inspect(try view(downward: ["cpu_limit_millicores": "1000"], cpuMax: "200000 100000"))
        #expect(section.warnings.contains { $0.hasPrefix("limits.cpu says 1000 millicores (file ") && $0.contains("but the cgroup enforces 2000 millicores") })
    }

    @Test("a downward limit inside the range its divisor allows matches the cgroup")
    func roundedLimitMatches() throws {
        let section = ResourceInspection.inspect(try view(env: ["CPU_LIMIT_CORES": "2"], cpuMax: "150000 100000"))
        #expect(!section.warnings.contains { $0.contains("but the cgroup enforces") })
    }

    @Test("memory.max rounded down to whole pages matches the declared limit")
    func pageRounding() throws {
        let section = ResourceInspection.inspect(try view(env: ["MEMORY_LIMIT_BYTES": "100000000"], memoryMax: "99999744"))
        #expect(section.warnings.isEmpty)
    }

    @Test("a token planted in the environment never appears in the resources section")
    func noTokenLeak() throws {
        let planted = "eyJhbGciOiJSUzI1NiJ9.planted-token-5e5e.c2ln"
        let section = ResourceInspection.inspect(try view(env: ["SERVICE_TOKEN": planted, "CPU_LIMIT_MILLICORES": "1000"], cpuMax: "100000 100000"))
        #expect(!showsAnyPiece(of: planted, in: everythingShown(section)))
    }
}
