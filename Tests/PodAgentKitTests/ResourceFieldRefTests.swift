// Specification of the downward API's resourceFieldRef: the selectors and divisors the API
// server accepts (pkg/apis/core/validation/validation.go, validateContainerResourceFieldSelector
// and validateContainerResourceDivisor) and the value the kubelet writes
// (pkg/api/v1/resource/helpers.go, ExtractContainerResourceValue), with KUBELET.md §3's examples.
import Testing

@testable import PodAgentKit

private func value(_ quantity: String, _ selector: String, divisor: String?) throws -> String {
    let selector = try ResourceFieldSelector(parsing: selector)
    let divisor = try Divisor(divisor.map { try Quantity(parsing: $0) }, for: selector)
    return resourceFieldValue(try Quantity(parsing: quantity), divisor: divisor)
}

private func divisorError(_ divisor: String, for selector: String) throws -> ResourceFieldError? {
    let selector = try ResourceFieldSelector(parsing: selector)
    let quantity = try Quantity(parsing: divisor)
    do {
        _ = try Divisor(quantity, for: selector)
        return nil
    } catch {
        return error
    }
}

@Suite("resourceFieldRef selectors")
struct ResourceFieldSelectorTests {
    @Test("the six fixed names and the hugepages prefixes are accepted")
    func supportedNames() throws {
        let table: [(String, Bool, ContainerResource)] = [
            ("limits.cpu", true, .cpu), ("limits.memory", true, .memory),
            ("limits.ephemeral-storage", true, .ephemeralStorage), ("requests.cpu", false, .cpu),
            ("requests.memory", false, .memory), ("requests.ephemeral-storage", false, .ephemeralStorage),
            ("requests.hugepages-2Mi", false, .hugepages(size: "2Mi")),
            ("limits.hugepages-1Gi", true, .hugepages(size: "1Gi")),
            // Only the prefix is checked, by the API server and by the kubelet.
            ("limits.hugepages-", true, .hugepages(size: "")),
        ]
        for (text, isLimit, resource) in table {
            let selector = try ResourceFieldSelector(parsing: text)
            #expect(selector == ResourceFieldSelector(isLimit: isLimit, resource: resource), "\(text)")
            #expect(selector.description == text)
        }
    }

    @Test("anything else is refused")
    func unsupportedNames() {
        for text in ["cpu", "limits.", "limits.storage", "Limits.cpu", "limits.CPU", "requests.cpu ", "limits.nvidia.com/gpu", "limit.cpu", "requests.hugepages"] {
            #expect(throws: ResourceFieldError.unsupportedResource(text), "\(text)") {
                try ResourceFieldSelector(parsing: text)
            }
        }
        #expect(throws: ResourceFieldError.missingResource) { try ResourceFieldSelector(parsing: "") }
        #expect(
            ResourceFieldError.unsupportedResource("limits.gpu").description.hasPrefix(
                #"resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu""#))
    }
}

@Suite("resourceFieldRef divisors")
struct DivisorTests {
    @Test("cpu accepts 1m and 1 by string form, so 1000m passes as 1")
    func cpuDivisors() throws {
        for divisor in ["1m", "1", "1000m", "0.001", "1000000u", "1000e-3"] {
            #expect(try divisorError(divisor, for: "limits.cpu") == nil, "\(divisor)")
        }
        // "1e-3", "1." and "+1" equal 1m or 1 but keep their spelling, which is compared.
        for divisor in ["2m", "1Ki", "1k", "10m", "1e-3", "1.", "01", "+1", "1n", "1u", "-1", "0.5"] {
            let error = try divisorError(divisor, for: "requests.cpu")
            #expect(error != nil, "\(divisor)")
        }
        let error = try divisorError("2m", for: "limits.cpu")
        #expect(
            error?.description
                == #"resourceFieldRef.divisor "2m" is invalid for limits.cpu: only divisor's values 1m and 1 are supported with the cpu resource"#
        )
    }

    @Test("memory, ephemeral-storage and hugepages accept the 13 byte units")
    func byteDivisors() throws {
        let allowed = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei", "1000", "1024Ki", "0.001M"]
        for selector in ["limits.memory", "requests.ephemeral-storage", "requests.hugepages-2Mi"] {
            for divisor in allowed {
                #expect(try divisorError(divisor, for: selector) == nil, "\(selector) / \(divisor)")
            }
            for divisor in ["1m", "1024", "2Ki", "1e3", "1.G", "01", "+1Ki", "1000E", "1e21", "2"] {
                #expect(try divisorError(divisor, for: selector) != nil, "\(selector) / \(divisor)")
            }
        }
        #expect(
            try divisorError("1024", for: "limits.ephemeral-storage")?.description
                == #"resourceFieldRef.divisor "1024" is invalid for limits.ephemeral-storage: only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"#
        )
    }

    @Test("an unset or zero divisor is accepted and means 1")
    func zeroMeansOne() throws {
        for selector in ["limits.cpu", "limits.memory", "requests.hugepages-1Gi"] {
            let parsed = try ResourceFieldSelector(parsing: selector)
            #expect(try Divisor(nil, for: parsed).quantity == Quantity(1))
            for zero in ["0", "0m", "0Ki", "-0", "0e9"] {
                #expect(try Divisor(Quantity(parsing: zero), for: parsed).quantity == Quantity(1), "\(zero)")
            }
        }
    }
}

@Suite("resourceFieldRef values")
struct ResourceFieldValueTests {
    @Test("KUBELET.md §3 examples")
    func kubeletDocExamples() throws {
        #expect(try value("15m", "requests.cpu", divisor: "1m") == "15")
        #expect(try value("4Mi", "limits.memory", divisor: "1Ki") == "4096")
        #expect(try value("1500m", "limits.cpu", divisor: "1") == "2")
        #expect(try value("129M", "limits.memory", divisor: "1Mi") == "124")
        #expect(try value("1500m", "limits.cpu", divisor: "1000m") == "2")
    }

    @Test("cpu divides milli-values, everything else whole values, rounding up")
    func arithmetic() throws {
        #expect(try value("250m", "limits.cpu", divisor: nil) == "1")
        #expect(try value("2", "limits.cpu", divisor: nil) == "2")
        #expect(try value("250m", "requests.cpu", divisor: "1m") == "250")
        #expect(try value("0.5m", "requests.cpu", divisor: "1m") == "1")  // MilliValue(500u) is 1
        #expect(try value("1Gi", "limits.memory", divisor: nil) == "1073741824")
        #expect(try value("1Gi", "limits.memory", divisor: "1Gi") == "1")
        #expect(try value("1Gi", "limits.memory", divisor: "1G") == "2")
        #expect(try value("500M", "requests.ephemeral-storage", divisor: "1Gi") == "1")
        #expect(try value("4Gi", "limits.hugepages-2Mi", divisor: "1Mi") == "4096")
        #expect(try value("1.5", "limits.memory", divisor: nil) == "2")  // Value rounds up first
        #expect(try value("0", "requests.memory", divisor: "1Mi") == "0")
        #expect(try value("1", "limits.memory", divisor: "1E") == "1")
    }

    @Test("float64 arithmetic: exact only up to 2^53, out of range as Go on amd64")
    func floatEdges() throws {
        #expect(try value("9007199254740993", "limits.memory", divisor: nil) == "9007199254740992")
        #expect(try value("-1500m", "limits.cpu", divisor: nil) == "-1")
        #expect(try value("-1.5", "limits.memory", divisor: nil) == "-2")
        // Value saturates at Int64.max; float64(2^63) does not convert back.
        #expect(try value("10E", "limits.memory", divisor: nil) == "-9223372036854775808")
        #expect(try value("9223372036854775807", "limits.cpu", divisor: "1") == "9223372036854776")
        #expect(goInt64Ceil(-0.5) == 0)
        #expect(goInt64Ceil(.nan) == .min)
        #expect(goInt64Ceil(-9_223_372_036_854_775_808.0) == .min)
        #expect(goInt64Ceil(4.000001) == 5)
    }
}
