// Specification of resources as PodView reads them: names recognised by convention or
// declared with --resource, values as the kubelet writes them (ceil(quantity / divisor),
// KUBELET.md §3) turned back into millicores and bytes, and the errors for values that cannot
// be trusted.
import Testing

@testable import PodAgentKit

/// What the kubelet writes for `quantity` under `selector` and `divisor`.
private func kubeletValue(_ quantity: String, _ selector: String, divisor: String?) throws -> String {
    let selector = try ResourceFieldSelector(parsing: selector)
    return resourceFieldValue(try Quantity(parsing: quantity), divisor: try Divisor(divisor.map { try Quantity(parsing: $0) }, for: selector))
}

private func divisor(_ selector: String, _ quantity: String) throws -> Divisor {
    try Divisor(Quantity(parsing: quantity), for: ResourceFieldSelector(parsing: selector))
}

@Suite("PodView: resource names")
struct PodResourceNameTests {
    @Test("names are recognised case- and separator-insensitively, with any prefix")
    func recognisedNames() throws {
        let table: [(String, String, String)] = [
            ("CONTAINER_CPU_REQUEST_MILLICORES", "requests.cpu", "1m"),
            ("MY_APP_MEMORY_LIMIT_MEBIBYTES", "limits.memory", "1Mi"),
            ("containerMemoryLimitBytes", "limits.memory", "1"),
            ("ephemeral-storage-limit-gib", "limits.ephemeral-storage", "1Gi"),
            ("EphemeralStorageRequestsKilobytes", "requests.ephemeral-storage", "1k"),
            ("CPU_LIMITS_CORES", "limits.cpu", "1"),
            ("cpulimitmillicores", "limits.cpu", "1m"),
            ("memoryRequestMiB", "requests.memory", "1Mi"),
            ("APP.MEMORY.LIMIT.MB", "limits.memory", "1M"),
            ("MEMORY_LIMIT_TEBIBYTES", "limits.memory", "1Ti"),
        ]
        for (name, selector, quantity) in table {
            #expect(ResourceNameConvention.recognise(name) == .resource(try divisor(selector, quantity)), "\(name)")
        }
    }

    @Test("names where resource and kind are not whole words are not resource names")
    func unrelatedNames() {
        for name in ["CPU_LIMITER_ENABLED", "MEMORYLIMITED", "PATH", "GOMEMLIMIT", "CPU_COUNT", "LIMIT_CPU_MILLICORES"] {
            #expect(ResourceNameConvention.recognise(name) == .none, "\(name)")
        }
    }

    @Test("a resource name with an unknown unit is recognised as such")
    func unknownUnitName() throws {
        #expect(
            ResourceNameConvention.recognise("JVM_MEMORY_LIMIT_PERCENT")
                == .unknownUnit(try ResourceFieldSelector(parsing: "limits.memory"), unit: "percent"))
    }

    @Test("a resource name without a unit is recognised as missing one")
    func missingUnitName() throws {
        #expect(ResourceNameConvention.recognise("MY_CPU_REQUEST") == .missingUnit(try ResourceFieldSelector(parsing: "requests.cpu")))
    }
}

@Suite("PodView: --resource declarations")
struct PodResourceDeclarationTests {
    @Test("NAME=selector/divisor is parsed with the API server's rules")
    func parsesDeclaration() throws {
        let declaration = try ResourceDeclaration(parsing: "MEM=limits.memory/1Mi")
        #expect(declaration == ResourceDeclaration(name: "MEM", divisor: try divisor("limits.memory", "1Mi")))
    }

    @Test("the divisor defaults to 1")
    func defaultDivisor() throws {
        #expect(try ResourceDeclaration(parsing: "GOMAXPROCS=limits.cpu").divisor == (try divisor("limits.cpu", "1")))
    }

    @Test("malformed declarations are refused with the reason")
    func refused() {
        let cases: [(String, String)] = [
            ("limits.cpu", "no '='"),
            ("=limits.cpu", "the name before '=' is empty"),
            ("CPU=limits.cpu/1Ki", "only divisor's values 1m and 1 are supported"),
            ("CPU=limits.cores", "Unsupported value"),
            ("HP=limits.hugepages-2Mi", "hugepages are not part of the pod model"),
            ("MEM=limits.memory/1KB", "divisor:"),
        ]
        for (text, reason) in cases {
            do {
                _ = try ResourceDeclaration(parsing: text)
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.description.contains(reason), "\(text): \(error)")
                #expect(error.description.hasPrefix("--resource \(String(reflecting: text))"))
            }
        }
    }
}

@Suite("PodView: resource values")
struct PodResourceValueTests {
    @Test("a 1m cpu divisor gives exact millicores")
    func exactMillicores() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let written = try kubeletValue("15m", "requests.cpu", divisor: "1m")
        let amount = try #require(try pod.load(["CONTAINER_CPU_REQUEST_MILLICORES": written]).resources.requests.cpuMillicores)
        #expect(amount.value == 15)
        #expect(!amount.isUpperBound)
    }

    @Test("cpu 250m with divisor 1 reads as an upper bound of 1000 millicores")
    func cpuCeil() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let written = try kubeletValue("250m", "limits.cpu", divisor: "1")
        let view = try pod.load(["CPU_LIMIT_CORES": written])
        let amount = try #require(view.resources.limits.cpuMillicores)
        #expect(amount.value == 1000)
        #expect(amount.range == 1...1000)
        #expect(amount.isUpperBound)
        #expect(view.warnings.contains(
            "limits.cpu is an upper bound: divisor 1 rounds up, so 1000 millicores means 1..1000 millicores (use a finer divisor, 1m, for the exact value)"))
    }

    @Test("memory 129M with divisor 1Mi reads as 124 MiB, an upper bound")
    func memoryMebibytes() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let written = try kubeletValue("129M", "limits.memory", divisor: "1Mi")
        #expect(written == "124")
        try pod.downwardVolume(["mem_limit": podBytes(written)])
        let view = try pod.load(declarations: ["mem_limit=limits.memory/1Mi"])
        let amount = try #require(view.resources.limits.memoryBytes)
        #expect(amount.value == 124 << 20)
        #expect(amount.range == (123 << 20) + 1...(124 << 20))
        #expect(amount.readings.map(\.source) == [.file(FileSystem.join(pod.paths.downwardPath, "mem_limit"))])
    }

    @Test("a 0 (a missing request) is exactly 0 whatever the divisor")
    func zeroIsExact() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let amount = try #require(try pod.load(["MEMORY_REQUEST_GIBIBYTES": "0"]).resources.requests.memoryBytes)
        #expect(amount.value == 0)
        #expect(!amount.isUpperBound)
    }

    @Test("downward volume files are recognised by name like env vars")
    func downwardFilesByName() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["containerMemoryLimitBytes": podBytes("536870912"), "ephemeral-storage-request-kib": podBytes("2048")])
        let resources = try pod.load().resources
        #expect(resources.limits.memoryBytes?.value == 536_870_912)
        #expect(resources.requests.ephemeralStorageBytes?.value == 2_097_152)
    }

    @Test("a declared name is looked up as an env var and as a downward file; a missing one is a warning")
    func declaredNames() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["cpu_request": podBytes("250")])
        let view = try pod.load(
            ["MEM": "64"], declarations: ["cpu_request=requests.cpu/1m", "MEM=limits.memory/1Mi", "ABSENT=limits.cpu"])
        #expect(view.resources.requests.cpuMillicores?.value == 250)
        #expect(view.resources.limits.memoryBytes?.value == 64 << 20)
        #expect(view.resources.limits.cpuMillicores == nil)
        #expect(view.warnings.contains { $0.hasPrefix("--resource ABSENT=limits.cpu/1: neither an env var ABSENT nor a file") })
    }

    @Test("a declaration overrides the naming convention for its name")
    func declarationOverridesConvention() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let view = try pod.load(["CPU_LIMIT_CORES": "2"], declarations: ["CPU_LIMIT_CORES=limits.cpu/1m"])
        #expect(view.resources.limits.cpuMillicores?.value == 2)
    }

    @Test("a name with the resource and kind but no unit is ignored with a warning")
    func missingUnitWarning() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let view = try pod.load(["MY_CPU_LIMIT": "1"])
        #expect(view.resources.limits.cpuMillicores == nil)
        #expect(view.warnings.contains { $0.contains("--resource MY_CPU_LIMIT=limits.cpu/<divisor>") })
    }

    @Test("an unknown unit in a downward volume file's name is an error that names the file and lists the known units")
    func unknownUnit() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["memory_limit_percent": podBytes("75")])
        let error = try #require(try pod.loadError([:]))
        guard case .unknownResourceUnit(.file(let path), let selector, "percent") = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(path.hasSuffix("/etc/podinfo/memory_limit_percent"))
        #expect(selector == (try ResourceFieldSelector(parsing: "limits.memory")))
        #expect(error.description.contains("memory_limit_percent"))
        #expect(error.description.contains("bytes (byte, b), kilobytes (kilobyte, kb), kibibytes (kibibyte, kib, ki)"))
        #expect(error.description.contains("exbibytes (exbibyte, eib, ei)"))
    }

    @Test("an env var with an unknown unit may belong to anything in the image: a warning listing the units, not an error")
    func unknownUnitInEnvironment() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let view = try pod.load(["JVM_MEMORY_LIMIT_PERCENT": "75"])
        #expect(view.resources.limits.memoryBytes == nil)
        #expect(view.warnings.contains { $0.contains("env JVM_MEMORY_LIMIT_PERCENT") && $0.contains("kibibytes") && $0.hasSuffix("ignored") })
    }

    @Test("the same resource from two sources that disagree is an error naming both")
    func conflictingSources() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["cpu_limit_millicores": podBytes("500")])
        let error = try #require(try pod.loadError(["CONTAINER_CPU_LIMIT_MILLICORES": "250"]))
        guard case .conflictingResourceValues(let first, let second) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(first.source == .environment("CONTAINER_CPU_LIMIT_MILLICORES"))
        #expect(second.source == .file(FileSystem.join(pod.paths.downwardPath, "cpu_limit_millicores")))
        #expect(error.description.contains("env CONTAINER_CPU_LIMIT_MILLICORES=250"))
        #expect(error.description.contains("cpu_limit_millicores=500"))
    }

    @Test("two sources with different divisors that agree narrow the value to their overlap")
    func agreeingSourcesNarrow() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        // 1500m: 2 with divisor 1, 1500 with divisor 1m.
        let view = try pod.load(["CPU_LIMIT_CORES": "2", "CPU_LIMIT_MILLICORES": "1500"])
        let amount = try #require(view.resources.limits.cpuMillicores)
        #expect(amount.value == 1500)
        #expect(!amount.isUpperBound)
        #expect(amount.readings.count == 2)
        #expect(!view.warnings.contains { $0.contains("upper bound") })
    }

    @Test("a value that is not a whole number is an error naming the source")
    func nonInteger() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let error = try #require(try pod.loadError(["CPU_LIMIT_CORES": "1.5"]))
        #expect(error == .invalidResourceValue(source: .environment("CPU_LIMIT_CORES"), selector: try ResourceFieldSelector(parsing: "limits.cpu"), value: #""1.5""#, reason: "it is not a whole number"))
        #expect(error.description.hasPrefix(#"env CPU_LIMIT_CORES should hold limits.cpu as the kubelet writes it (a non-negative whole number), but holds "1.5""#))
    }

    @Test("a negative value is an error naming the source")
    func negative() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["memory_limit_bytes": podBytes("-1")])
        let error = try #require(try pod.loadError())
        guard case .invalidResourceValue(.file(let path), _, _, "it is negative") = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(path.hasSuffix("/etc/podinfo/memory_limit_bytes"))
    }

    @Test("a value whose bytes overflow Int64 is an error")
    func overflow() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let error = try #require(try pod.loadError(["MEMORY_LIMIT_EXBIBYTES": "8"]))
        guard case .invalidResourceValue(_, _, _, let reason) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(reason == "times the divisor 1Ei it does not fit in 64 bits")
    }

    @Test("a hand-written file may end with one newline")
    func trailingNewline() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/etc/podinfo/cpu_request_millicores", "100\n")
        #expect(try pod.load().resources.requests.cpuMillicores?.value == 100)
    }
}
