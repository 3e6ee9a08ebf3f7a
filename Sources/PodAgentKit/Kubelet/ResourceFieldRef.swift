// The downward API's `resourceFieldRef`: which container resources it can name, which
// divisors the API server accepts, and the number the kubelet writes.
//
// Upstream:
// - kubernetes pkg/apis/core/validation/validation.go: validateContainerResourceFieldSelector,
//   validateContainerResourceDivisor (what the API server lets through);
// - kubernetes pkg/api/v1/resource/helpers.go: ExtractContainerResourceValue,
//   convertResource{CPU,Memory,EphemeralStorage,HugePages}ToString (what the kubelet writes).
//
// Example: `limits.memory` of 129M with divisor 1Mi is written as "124":
//
//     let selector = try ResourceFieldSelector(parsing: "limits.memory")
//     let divisor = try Divisor(Quantity(parsing: "1Mi"), for: selector)
//     resourceFieldValue(try Quantity(parsing: "129M"), divisor: divisor)  // "124"

/// A container resource that `resourceFieldRef` can report.
public enum ContainerResource: Sendable, Hashable, CustomStringConvertible {
    case cpu
    case memory
    case ephemeralStorage
    /// `hugepages-<size>`, e.g. `hugepages-2Mi`. The size is kept as written: the API server
    /// checks only the `hugepages-` prefix here, and so does the kubelet.
    case hugepages(size: String)

    /// The Kubernetes resource name: `cpu`, `memory`, `ephemeral-storage`, `hugepages-2Mi`.
    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .memory: "memory"
        case .ephemeralStorage: "ephemeral-storage"
        case .hugepages(let size): "hugepages-" + size
        }
    }
}

/// `resourceFieldRef.resource`: `requests.<resource>` or `limits.<resource>`.
public struct ResourceFieldSelector: Sendable, Hashable, CustomStringConvertible {
    /// `limits.*` rather than `requests.*`.
    public var isLimit: Bool
    public var resource: ContainerResource

    public init(isLimit: Bool, resource: ContainerResource) {
        self.isLimit = isLimit
        self.resource = resource
    }

    /// The names the API server accepts (validateContainerResourceFieldSelector):
    /// 1. exactly one of `limits.cpu`, `limits.memory`, `limits.ephemeral-storage`,
    ///    `requests.cpu`, `requests.memory`, `requests.ephemeral-storage`;
    /// 2. or anything starting with `requests.hugepages-` or `limits.hugepages-`
    ///    (the DownwardAPIHugePages prefixes).
    public init(parsing text: String) throws(ResourceFieldError) {
        if text.isEmpty { throw .missingResource }
        for (prefix, isLimit) in [("requests.", false), ("limits.", true)] where text.hasPrefix(prefix) {
            let name = text.dropFirst(prefix.count)
            switch name {
            case "cpu": self.init(isLimit: isLimit, resource: .cpu)
            case "memory": self.init(isLimit: isLimit, resource: .memory)
            case "ephemeral-storage": self.init(isLimit: isLimit, resource: .ephemeralStorage)
            case _ where name.hasPrefix("hugepages-"):
                self.init(isLimit: isLimit, resource: .hugepages(size: String(name.dropFirst("hugepages-".count))))
            default: throw .unsupportedResource(text)
            }
            return
        }
        throw .unsupportedResource(text)
    }

    /// The selector as written in a pod spec: `limits.cpu`, `requests.hugepages-2Mi`.
    public var description: String {
        (isLimit ? "limits." : "requests.") + resource.description
    }
}

/// Why a `resourceFieldRef` would be refused by the API server.
public enum ResourceFieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `resource` is empty.
    case missingResource
    /// `resource` is not one the downward API can report.
    case unsupportedResource(String)
    /// `divisor` is not one of the values allowed for the resource; `divisor` is its string
    /// form, which is what the API server compares.
    case unsupportedDivisor(divisor: String, selector: ResourceFieldSelector)

    public var description: String {
        switch self {
        case .missingResource:
            return "resourceFieldRef.resource: Required value"
        case .unsupportedResource(let name):
            return "resourceFieldRef.resource: Unsupported value: \(String(reflecting: name)): supported values: "
                + "\"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", "
                + "\"requests.ephemeral-storage\", \"requests.memory\", or \"requests.hugepages-<size>\", "
                + "\"limits.hugepages-<size>\""
        case .unsupportedDivisor(let divisor, let selector):
            // The API server's own wording (validateContainerResourceDivisor).
            let kind =
                switch selector.resource {
                case .cpu: "cpu"
                case .memory: "memory"
                case .ephemeralStorage: "local ephemeral storage"
                case .hugepages: "hugepages"
                }
            let allowed = selector.resource == .cpu ? "1m and 1" : "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"
            return "resourceFieldRef.divisor \(String(reflecting: divisor)) is invalid for \(selector): "
                + "only divisor's values \(allowed) are supported with the \(kind) resource"
        }
    }
}

/// A `resourceFieldRef.divisor` the API server would accept, for one selector.
public struct Divisor: Sendable, Hashable {
    public let selector: ResourceFieldSelector
    /// The divisor the kubelet divides by: the one given, or 1 when unset or zero.
    public let quantity: Quantity

    static let cpuDivisors: Set<String> = ["1m", "1"]
    static let byteDivisors: Set<String> = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"]

    /// Validates `quantity` as validateContainerResourceDivisor does.
    /// 1. An unset divisor, or any zero (`0`, `0m`, `0Ki`), is accepted, and the kubelet then
    ///    divides by 1.
    /// 2. Otherwise its string form (`Quantity.description`, Go's `String()`) must be in the
    ///    list for the resource: cpu `1m`, `1`; memory, ephemeral-storage and hugepages `1`,
    ///    `1k` .. `1E`, `1Ki` .. `1Ei`. Comparing strings means `1000m` passes as `1` and
    ///    `1000` as `1k`, while `1024` (not `1Ki`), `01` and `1.` (kept as written) fail.
    public init(_ quantity: Quantity?, for selector: ResourceFieldSelector) throws(ResourceFieldError) {
        self.selector = selector
        guard let quantity, !quantity.isZero else {
            self.quantity = Quantity(1)
            return
        }
        let allowed = selector.resource == .cpu ? Self.cpuDivisors : Self.byteDivisors
        guard allowed.contains(quantity.description) else {
            throw .unsupportedDivisor(divisor: quantity.description, selector: selector)
        }
        self.quantity = quantity
    }
}

/// The number the kubelet writes for `quantity` (a request or limit) divided by `divisor`,
/// as helpers.go computes it, in float64:
/// 1. cpu: `ceil(float64(q.MilliValue()) / float64(d.MilliValue()))`;
/// 2. memory, ephemeral-storage, hugepages: `ceil(float64(q.Value()) / float64(d.Value()))`;
/// 3. formatted with strconv.FormatInt.
///
/// Being float64, the result is exact only up to 2^53 (`9007199254740993` / 1 gives
/// `9007199254740992`). A quotient outside Int64 converts as Go does on amd64, to
/// Int64.min (Go leaves that conversion to the platform).
public func resourceFieldValue(_ quantity: Quantity, divisor: Divisor) -> String {
    let ratio: Double
    switch divisor.selector.resource {
    case .cpu:
        ratio = Double(quantity.milliValue) / Double(divisor.quantity.milliValue)
    case .memory, .ephemeralStorage, .hugepages:
        ratio = Double(quantity.value) / Double(divisor.quantity.value)
    }
    return String(goInt64Ceil(ratio))
}

/// Go's `int64(math.Ceil(x))` on amd64, without libm: the ceiling, and Int64.min for NaN or a
/// value outside Int64 (CVTTSD2SQ's "integer indefinite").
func goInt64Ceil(_ x: Double) -> Int64 {
    guard x >= -9_223_372_036_854_775_808.0 && x < 9_223_372_036_854_775_808.0 else {
        return Int64.min
    }
    // Doubles this large are integers already, so the truncation below is the ceiling or
    // one short of it, and adding one cannot overflow.
    let truncated = Int64(x)
    return Double(truncated) < x ? truncated + 1 : truncated
}
