// Container resources as the kubelet exposes them through resourceFieldRef (KUBELET.md §3),
// turned back into millicores and bytes.
//
// The kubelet writes ceil(quantity / divisor), so a value v with divisor d says only that the
// quantity lies in ((v-1)·d, v·d] (exactly 0 when v is 0). podagent keeps that range rather
// than a single number: it is what makes "upper bound" precise, and what lets two sources of
// the same resource with different divisors be checked against each other.

/// Where a resource value was read.
public enum ResourceSource: Sendable, Hashable, CustomStringConvertible {
    /// An env var, by name.
    case environment(String)
    /// A file of the downwardAPI directory, by its path as opened.
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): "env \(name)"
        case .file(let path): "file \(path)"
        }
    }
}

/// One resource value as one source holds it.
public struct ResourceReading: Sendable, Hashable {
    public var source: ResourceSource
    /// The resource, and the divisor the kubelet divided by (declared, or from the name's unit).
    public var divisor: Divisor
    /// The number as the kubelet wrote it.
    public var written: Int64
    /// The quantities that the kubelet writes as `written`, in millicores (cpu) or bytes.
    public var range: ClosedRange<Int64>

    public var selector: ResourceFieldSelector { divisor.selector }

    /// `written` as the range of quantities it stands for. Nil when that overflows Int64.
    init?(source: ResourceSource, divisor: Divisor, written: Int64) {
        let unit = divisor.canonicalUnits
        guard written > 0 else {
            self.init(source: source, divisor: divisor, written: written, range: 0...0)
            return
        }
        let (upper, overflow) = written.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        self.init(source: source, divisor: divisor, written: written, range: (upper - unit + 1)...upper)
    }

    init(source: ResourceSource, divisor: Divisor, written: Int64, range: ClosedRange<Int64>) {
        self.source = source
        self.divisor = divisor
        self.written = written
        self.range = range
    }

    /// `env CPU=250 (250 millicores)`, `file /etc/podinfo/cpu_cores=1 (1..1000 millicores)`.
    var summary: String {
        let unit = selector.resource == .cpu ? "millicores" : "bytes"
        let amount = range.lowerBound == range.upperBound ? "\(range.upperBound)" : "\(range.lowerBound)..\(range.upperBound)"
        return "\(source)=\(written) with divisor \(divisor.quantity) (\(amount) \(unit))"
    }
}

extension Divisor {
    /// The divisor in the pod model's units: millicores for cpu, bytes for the others.
    var canonicalUnits: Int64 {
        selector.resource == .cpu ? quantity.milliValue : quantity.value
    }
}

/// A resource of the container: what every source that holds it agrees on.
public struct ResourceAmount: Sendable, Hashable {
    /// The quantities consistent with every reading, in millicores (cpu) or bytes.
    public var range: ClosedRange<Int64>
    /// Every source that holds this resource, in the order read.
    public var readings: [ResourceReading]

    /// The value to use: the largest quantity consistent with the readings, since the kubelet
    /// rounds up.
    public var value: Int64 { range.upperBound }

    /// True when the real quantity may be smaller than `value`: every divisor was coarser than
    /// the exact unit (cpu > 1m, memory > 1), and the kubelet rounded up.
    public var isUpperBound: Bool { range.lowerBound != range.upperBound }
}

/// The three resources of requests or of limits. Nil: no source holds it.
public struct ResourceValues: Sendable, Hashable {
    public var cpuMillicores: ResourceAmount?
    public var memoryBytes: ResourceAmount?
    public var ephemeralStorageBytes: ResourceAmount?

    public init(cpuMillicores: ResourceAmount? = nil, memoryBytes: ResourceAmount? = nil, ephemeralStorageBytes: ResourceAmount? = nil) {
        self.cpuMillicores = cpuMillicores
        self.memoryBytes = memoryBytes
        self.ephemeralStorageBytes = ephemeralStorageBytes
    }

    subscript(resource: ContainerResource) -> ResourceAmount? {
        get {
            switch resource {
            case .cpu: cpuMillicores
            case .memory: memoryBytes
            case .ephemeralStorage: ephemeralStorageBytes
            case .hugepages: nil
            }
        }
        set {
            switch resource {
            case .cpu: cpuMillicores = newValue
            case .memory: memoryBytes = newValue
            case .ephemeralStorage: ephemeralStorageBytes = newValue
            case .hugepages: break
            }
        }
    }
}

/// The container's requests and limits, read from env vars and downwardAPI files.
///
/// Caveat, from the kubelet: a container without a limit gets the NODE's allocatable amount
/// as its `limits.*` value, and a missing request reads 0. Inside the container neither can be
/// told apart from a real value; the cgroup view (``CgroupLimits``) can.
public struct PodResources: Sendable, Hashable {
    public var requests: ResourceValues
    public var limits: ResourceValues

    public init(requests: ResourceValues = ResourceValues(), limits: ResourceValues = ResourceValues()) {
        self.requests = requests
        self.limits = limits
    }

    public subscript(selector: ResourceFieldSelector) -> ResourceAmount? {
        selector.isLimit ? limits[selector.resource] : requests[selector.resource]
    }

    /// Reads every declared name, then every other env var and downward file whose name
    /// follows ``ResourceNameConvention``.
    ///
    /// 1. A declared name is looked up both as an env var and as a file in the downward
    ///    directory; finding neither is a warning, since the same flags may serve containers
    ///    that expose different fields.
    /// 2. Other names are recognised by convention: env vars first, then downward files, each
    ///    in byte-wise order. A name with the resource and kind but no unit is a warning; with
    ///    an unknown unit, an error.
    /// 3. Values must be non-negative decimal integers, as the kubelet writes them (a file may
    ///    end with one newline, for files written by hand).
    /// 4. Readings of the same resource must describe overlapping ranges; the result is their
    ///    intersection. Disjoint ranges are an error naming both sources.
    public static func load(
        environment: [String: [UInt8]],
        paths: PodPaths,
        declarations: [ResourceDeclaration],
        warnings: inout [String]
    ) throws(PodViewError) -> PodResources {
        var readings: [ResourceReading] = []
        let downward = paths.downwardPath
        let declared = Set(declarations.map(\.name))

        // 1.
        for declaration in declarations {
            var found = false
            if let bytes = environment[declaration.name] {
                readings.append(try reading(bytes, source: .environment(declaration.name), divisor: declaration.divisor))
                found = true
            }
            let path = FileSystem.join(downward, declaration.name)
            if let bytes = try readPodFileIfPresent(path) {
                readings.append(try reading(dropFinalNewline(bytes), source: .file(path), divisor: declaration.divisor))
                found = true
            }
            if !found {
                warnings.append(
                    "--resource \(declaration): neither an env var \(declaration.name) nor a file \(path) exists; "
                        + "\(declaration.divisor.selector) is unknown from this source")
            }
        }

        // 2.
        var candidates: [(name: String, source: ResourceSource, bytes: () throws(PodViewError) -> [UInt8])] = []
        for name in environment.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) where !declared.contains(name) {
            let bytes = environment[name]!
            candidates.append((name, .environment(name), { bytes }))
        }
        for name in regularFileNames(in: downward) where !declared.contains(name) {
            let path = FileSystem.join(downward, name)
            candidates.append((name, .file(path), { () throws(PodViewError) in dropFinalNewline(try readPodFileIfPresent(path) ?? []) }))
        }
        for candidate in candidates {
            switch ResourceNameConvention.recognise(candidate.name) {
            case .none:
                continue
            case .resource(let divisor):
                readings.append(try reading(try candidate.bytes(), source: candidate.source, divisor: divisor))
            case .missingUnit(let selector):
                warnings.append(
                    "\(candidate.source) looks like \(selector) but its name has no unit, so its divisor is unknown; ignored — "
                        + "declare it with --resource \(candidate.name)=\(selector)/<divisor>, or end its name with a unit such as "
                        + (selector.resource == .cpu ? "_MILLICORES" : "_BYTES"))
            case .unknownUnit(let selector, let unit):
                let problem = PodViewError.unknownResourceUnit(source: candidate.source, selector: selector, unit: unit)
                // A file in the downward volume was put there for this pod's tools: a wrong unit is a
                // mistake to stop on. An env var may belong to anything else in the image
                // (JVM_MEMORY_LIMIT_PERCENT), so it only earns a warning.
                guard case .environment = candidate.source else { throw problem }
                warnings.append("\(problem); ignored")
            }
        }

        // 4.
        var resources = PodResources()
        for reading in readings {
            let selector = reading.selector
            guard let existing = resources[selector] else {
                resources.set(selector, ResourceAmount(range: reading.range, readings: [reading]))
                continue
            }
            let lower = max(existing.range.lowerBound, reading.range.lowerBound)
            let upper = min(existing.range.upperBound, reading.range.upperBound)
            guard lower <= upper else {
                // Ranges on a line that all meet pairwise meet together, so one earlier reading
                // alone disagrees with this one.
                let other = existing.readings.first { $0.range.upperBound < reading.range.lowerBound || reading.range.upperBound < $0.range.lowerBound }
                throw .conflictingResourceValues(first: other ?? existing.readings[0], second: reading)
            }
            resources.set(selector, ResourceAmount(range: lower...upper, readings: existing.readings + [reading]))
        }
        return resources
    }

    mutating func set(_ selector: ResourceFieldSelector, _ amount: ResourceAmount) {
        if selector.isLimit { limits[selector.resource] = amount } else { requests[selector.resource] = amount }
    }

    /// Warnings for the values that are only upper bounds, e.g. "limits.cpu is an upper bound: …".
    public var upperBoundWarnings: [String] {
        var warnings: [String] = []
        for isLimit in [false, true] {
            for resource in [ContainerResource.cpu, .memory, .ephemeralStorage] {
                let selector = ResourceFieldSelector(isLimit: isLimit, resource: resource)
                guard let amount = self[selector], amount.isUpperBound else { continue }
                let unit = resource == .cpu ? "millicores" : "bytes"
                let divisors = Set(amount.readings.map { "\($0.divisor.quantity)" }).sorted().joined(separator: ", ")
                warnings.append(
                    "\(selector) is an upper bound: divisor \(divisors) rounds up, so \(amount.value) \(unit) means "
                        + "\(amount.range.lowerBound)..\(amount.range.upperBound) \(unit) "
                        + "(use a finer divisor, \(resource == .cpu ? "1m" : "1"), for the exact value)")
            }
        }
        return warnings
    }
}

/// 3. The kubelet's number, checked.
private func reading(_ bytes: [UInt8], source: ResourceSource, divisor: Divisor) throws(PodViewError) -> ResourceReading {
    let text = String(decoding: bytes, as: UTF8.self)
    func invalid(_ reason: String) -> PodViewError {
        .invalidResourceValue(source: source, selector: divisor.selector, value: GoQuote.quote(bytes), reason: reason)
    }
    guard !bytes.isEmpty else { throw invalid("it is empty") }
    if bytes.first == UInt8(ascii: "-"), bytes.count > 1, bytes.dropFirst().allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
        throw invalid("it is negative")
    }
    guard bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw invalid("it is not a whole number") }
    guard let written = Int64(text) else { throw invalid("it does not fit in 64 bits") }
    guard let result = ResourceReading(source: source, divisor: divisor, written: written) else {
        throw invalid("times the divisor \(divisor.quantity) it does not fit in 64 bits")
    }
    return result
}

private func dropFinalNewline(_ bytes: [UInt8]) -> [UInt8] {
    bytes.last == UInt8(ascii: "\n") ? Array(bytes.dropLast()) : bytes
}
