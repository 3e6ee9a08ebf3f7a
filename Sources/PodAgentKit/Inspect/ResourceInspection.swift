/// The `resources` section of `podagent inspect`: requests and limits as declared through the downward API
/// (env vars, downward files) beside the limits the kernel enforces (the cgroup), and what the
/// difference means.
///
/// Warnings, each for a trap the kubelet's formats set (KUBELET.md §3):
/// - a downward limit with no cgroup limit behind it: that number is the node's allocatable;
/// - a CPU limit that is not whole cores: apps that round down get fewer CPUs, apps that round up are throttled;
/// - a value rounded up by its divisor (``PodResources/upperBoundWarnings``);
/// - a request above its limit: impossible in a valid pod, so the sources are mixed up;
/// - a downward limit the cgroup does not match: the pod was resized, or a name's unit lies.
///
/// Value:
/// ```
/// {"requests": {"cpu": D, "memory": D, "ephemeralStorage": D},
///  "limits":   {"cpu": D, "memory": D, "ephemeralStorage": D},
///  "cgroup": null | {"version": 1|2,
///                    "cpu": {"limited": bool | null, "millicores": Int | null, "directory": String | null},
///                    "memory": {"limited": bool | null, "bytes": Int | null, "directory": String | null}},
///  "effectiveCPU": null | {"millicores": Int, "source": "cgroup" | "downward"},
///  "cpus": Int | null}
/// D = null | {"value": Int, "lowerBound": Int, "upperBound": Int, "exact": bool, "unit": "millicores" | "bytes",
///             "sources": [{"kind": "env" | "file", "name": String, "written": Int, "divisor": "1m"}]}
/// ```
/// `value` is the upper bound (the kubelet rounds up); `exact` is false when a divisor made it one.
/// `limited: null` means the cgroup showed nothing for that controller.
public enum ResourceInspection {
    /// Reports `view`'s resources and cgroup limits; reads nothing itself.
    public static func inspect(_ view: PodView) -> InspectSection {
        var rows: [InspectSection.Row] = []
        var warnings: [String] = []
        let resources = view.resources
        let cgroup = view.cgroup

        for isLimit in [false, true] {
            for resource in [ContainerResource.cpu, .memory, .ephemeralStorage] {
                let selector = ResourceFieldSelector(isLimit: isLimit, resource: resource)
                let amount = resources[selector]
                let enforced = isLimit ? cgroupLimit(cgroup, resource) : nil
                if amount == nil && enforced == nil { continue }
                rows.append(.init("\(selector)", amount.map { describe($0, resource) } ?? "(not exposed to the container)"))
                if let amount {
                    for reading in amount.readings {
                        rows.append(.init("from", "\(reading.source) = \(reading.written) (divisor \(reading.divisor.quantity))", indent: 1))
                    }
                }
                if let enforced {
                    rows.append(.init("cgroup", describe(enforced, resource, cgroup: cgroup), indent: 1))
                }
            }
        }
        if cgroup == nil { rows.append(.init("cgroup", "(no cgroup filesystem found)")) }
        if let effective = view.effectiveCPULimit {
            let source = effective.source == .cgroupQuota ? "cgroup quota" : "downward limits.cpu"
            rows.append(.init("effective CPU", "\(effective.millicores) millicores from the \(source); cpus = \(view.cpus ?? 0)"))
        } else {
            rows.append(.init("effective CPU", "(no CPU limit known)"))
        }

        warnings += allocatableWarnings(resources, cgroup)
        warnings += fractionalCPUWarnings(view)
        warnings += resources.upperBoundWarnings
        warnings += requestAboveLimitWarnings(resources)
        warnings += mismatchWarnings(resources, cgroup)

        return InspectSection(key: "resources", title: "Resources", rows: rows, warnings: warnings, value: value(view))
    }

    // MARK: Warnings

    /// A downward `limits.cpu`/`limits.memory` with no cgroup limit behind it is the node's allocatable.
    private static func allocatableWarnings(_ resources: PodResources, _ cgroup: CgroupLimits?) -> [String] {
        var warnings: [String] = []
        for resource in [ContainerResource.cpu, .memory] {
            let selector = ResourceFieldSelector(isLimit: true, resource: resource)
            guard let amount = resources[selector], amount.value > 0 else { continue }
            let what = "\(selector) = \(amount.value) \(unit(resource)) (\(sources(amount)))"
            let advice = "do not size thread pools or heaps from it; set resources.limits.\(resource) in the pod spec"
            guard let cgroup else {
                warnings.append(
                    "\(what) cannot be checked: no cgroup filesystem was found — if the container has no \(resource) limit, "
                        + "that value is the node's allocatable; mount /sys/fs/cgroup (or pass --root) to tell")
                continue
            }
            switch cgroupLimit(cgroup, resource) {
            case .unlimited?:
                warnings.append("\(what) but the cgroup has no \(resource) limit: that value is the node's allocatable, not a limit — \(advice)")
            case nil:
                warnings.append(
                    "\(what) but no cgroup \(resource) limit file was found — if the container has no \(resource) limit, "
                        + "that value is the node's allocatable")
            case .limited?:
                break
            }
        }
        return warnings
    }

    /// A CPU limit that is not whole cores, as enforced (the cgroup quota) or else as declared.
    private static func fractionalCPUWarnings(_ view: PodView) -> [String] {
        guard let effective = view.effectiveCPULimit, effective.millicores % 1000 != 0 else { return [] }
        let down = effective.millicores / 1000
        let up = down + 1
        let source = effective.source == .cgroupQuota ? "the cgroup CPU quota" : "limits.cpu"
        let roundDown = down == 0
            ? "apps that round down get 0 CPUs (most clamp that to 1)"
            : "apps that round down get \(down) CPU\(down == 1 ? "" : "s") and leave \(effective.millicores - down * 1000)m unused"
        return [
            "\(source) is \(effective.millicores) millicores, not a whole number of cores: \(roundDown), apps that round up "
                + "get \(up) and are throttled — prefer a limit that is a multiple of 1000m for CPU-bound pools"
        ]
    }

    /// A request above its limit cannot pass validation, so the two numbers are not from the same container.
    private static func requestAboveLimitWarnings(_ resources: PodResources) -> [String] {
        var warnings: [String] = []
        for resource in [ContainerResource.cpu, .memory, .ephemeralStorage] {
            guard let request = resources.requests[resource], let limit = resources.limits[resource],
                  request.range.lowerBound > limit.range.upperBound
            else { continue }
            warnings.append(
                "requests.\(resource) (\(describe(request, resource)), \(sources(request))) is above limits.\(resource) "
                    + "(\(describe(limit, resource)), \(sources(limit))): impossible in a valid pod — the sources are mixed up; "
                    + "check that each env var or file is the field and unit its name says")
        }
        return warnings
    }

    /// A limited cgroup that disagrees with the downward limit's range.
    private static func mismatchWarnings(_ resources: PodResources, _ cgroup: CgroupLimits?) -> [String] {
        var warnings: [String] = []
        for resource in [ContainerResource.cpu, .memory] {
            guard let amount = resources.limits[resource], case .limited(let enforced)? = cgroupLimit(cgroup, resource) else { continue }
            let range = amount.range
            let consistent: Bool
            switch resource {
            case .cpu:
                // The kubelet's quota is limit × period / 1000 µs, at least 1 ms of a 100 ms period (10m).
                consistent = range.contains(enforced) || (enforced == minimumCPUQuotaMillicores && range.upperBound < minimumCPUQuotaMillicores)
            default:
                // The kernel rounds memory.max down to whole pages.
                consistent = enforced <= range.upperBound && enforced >= range.lowerBound / pageSize * pageSize
            }
            if consistent { continue }
            warnings.append(
                "limits.\(resource) says \(describe(amount, resource)) (\(sources(amount))) but the cgroup enforces "
                    + "\(enforced) \(unit(resource)): the pod's resources changed after the container started (in-place resize), "
                    + "or a divisor is not what the name says — trust the cgroup value")
        }
        return warnings
    }

    static let minimumCPUQuotaMillicores: Int64 = 10
    static let pageSize: Int64 = 4096

    // MARK: Text

    private static func unit(_ resource: ContainerResource) -> String {
        resource == .cpu ? "millicores" : "bytes"
    }

    private static func describe(_ amount: ResourceAmount, _ resource: ContainerResource) -> String {
        let range = amount.range
        if !amount.isUpperBound { return "\(amount.value) \(unit(resource))" }
        return "\(amount.value) \(unit(resource)) (upper bound; \(range.lowerBound)..\(range.upperBound))"
    }

    private static func describe(_ limit: CgroupLimits.Limit, _ resource: ContainerResource, cgroup: CgroupLimits?) -> String {
        let directory = resource == .cpu ? cgroup?.cpuDirectory : cgroup?.memoryDirectory
        let location = directory.map { "  (\($0))" } ?? ""
        switch limit {
        case .unlimited: return "unlimited" + location
        case .limited(let value): return "\(value) \(unit(resource))" + location
        }
    }

    private static func sources(_ amount: ResourceAmount) -> String {
        amount.readings.map { "\($0.source)" }.joined(separator: ", ")
    }

    private static func cgroupLimit(_ cgroup: CgroupLimits?, _ resource: ContainerResource) -> CgroupLimits.Limit? {
        switch resource {
        case .cpu: cgroup?.cpuMillicores
        case .memory: cgroup?.memoryBytes
        default: nil
        }
    }

    // MARK: Value

    private static func value(_ view: PodView) -> PodValue {
        func declared(_ amount: ResourceAmount?, _ resource: ContainerResource) -> PodValue {
            guard let amount else { return .null }
            return .object([
                .init("value", .integer(amount.value)),
                .init("lowerBound", .integer(amount.range.lowerBound)),
                .init("upperBound", .integer(amount.range.upperBound)),
                .init("exact", .bool(!amount.isUpperBound)),
                .init("unit", .text(unit(resource))),
                .init("sources", .list(amount.readings.map { reading in
                    let (kind, name): (String, String) =
                        switch reading.source {
                        case .environment(let name): ("env", name)
                        case .file(let path): ("file", path)
                        }
                    return .object([
                        .init("kind", .text(kind)), .init("name", .text(name)),
                        .init("written", .integer(reading.written)), .init("divisor", .text("\(reading.divisor.quantity)")),
                    ])
                })),
            ])
        }
        func values(_ values: ResourceValues) -> PodValue {
            .object([
                .init("cpu", declared(values.cpuMillicores, .cpu)),
                .init("memory", declared(values.memoryBytes, .memory)),
                .init("ephemeralStorage", declared(values.ephemeralStorageBytes, .ephemeralStorage)),
            ])
        }
        func enforced(_ limit: CgroupLimits.Limit?, number: String, directory: String?) -> PodValue {
            let limited: PodValue = limit.map { .bool($0 != .unlimited) } ?? .null
            return .object([
                .init("limited", limited), .init(number, limit?.limitedValue.map(PodValue.integer) ?? .null),
                .init("directory", directory.map(PodValue.text) ?? .null),
            ])
        }
        let cgroup: PodValue = view.cgroup.map { cgroup in
            .object([
                .init("version", .integer(Int64(cgroup.version.rawValue))),
                .init("cpu", enforced(cgroup.cpuMillicores, number: "millicores", directory: cgroup.cpuDirectory)),
                .init("memory", enforced(cgroup.memoryBytes, number: "bytes", directory: cgroup.memoryDirectory)),
            ])
        } ?? .null
        let effective: PodValue = view.effectiveCPULimit.map { limit in
            .object([
                .init("millicores", .integer(limit.millicores)),
                .init("source", .text(limit.source == .cgroupQuota ? "cgroup" : "downward")),
            ])
        } ?? .null
        return .object([
            .init("requests", values(view.resources.requests)),
            .init("limits", values(view.resources.limits)),
            .init("cgroup", cgroup),
            .init("effectiveCPU", effective),
            .init("cpus", view.cpus.map(PodValue.integer) ?? .null),
        ])
    }
}
