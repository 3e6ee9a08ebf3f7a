/// Why the pod model could not be read: each case says what was found where, and what to check.
///
/// Absent data is never an error (a missing labels file is "no labels known"); these are
/// contradictions — a file that exists but cannot be what its path says, or two sources that
/// disagree — where reporting a value would be guessing.
public enum PodViewError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A pod file exists but cannot be read (permissions, a directory in its place).
    case unreadableFile(path: String, error: SystemError)
    /// A labels or annotations file with a line the kubelet would never write.
    case malformedMetadataFile(path: String, kind: MetadataKind, error: DownwardAPIMap.ParseError)
    /// A name that reads as `<resource><kind><unit>` with a unit podagent does not know.
    case unknownResourceUnit(source: ResourceSource, selector: ResourceFieldSelector, unit: String)
    /// A resource value that is not what the kubelet writes: a non-negative whole number.
    /// `value` is Go-quoted, so every byte shows.
    case invalidResourceValue(source: ResourceSource, selector: ResourceFieldSelector, value: String, reason: String)
    /// Two sources of one resource whose values cannot both be true.
    case conflictingResourceValues(first: ResourceReading, second: ResourceReading)
    /// A cgroup interface file whose content is not the kernel's format. `content` is Go-quoted.
    case malformedCgroupFile(path: String, content: String, expected: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let error):
            return "cannot read \(path): \(error) — check that the volume is mounted there and readable by this user"
        case .malformedMetadataFile(let path, let kind, let error):
            return "\(path):\(error.lineNumber): malformed \(kind.rawValue) line: \(error.reason): \(error.line) — "
                + "the kubelet never writes this; is this the downwardAPI \(kind.rawValue) file? "
                + "(expected key=\"value\" lines from a downwardAPI item with fieldPath: metadata.\(kind.rawValue))"
        case .unknownResourceUnit(let source, let selector, let unit):
            let known = ResourceNameConvention.units(for: selector.resource).map(\.summary).joined(separator: ", ")
            return "\(source) reads as a \(selector) value, but its unit \(String(reflecting: unit)) is unknown; "
                + "known \(selector.resource) units: \(known) — rename it to end with one of these, "
                + "or declare it with --resource NAME=\(selector)/<divisor>"
        case .invalidResourceValue(let source, let selector, let value, let reason):
            return "\(source) should hold \(selector) as the kubelet writes it (a non-negative whole number), "
                + "but holds \(value): \(reason) — is it really a resourceFieldRef value? If not, rename it so it does not "
                + "read as a resource name"
        case .conflictingResourceValues(let first, let second):
            return "\(first.selector) disagrees between two sources: \(first.summary) and \(second.summary) — "
                + "they cannot come from the same container's resourceFieldRef; check each one's containerName, "
                + "resource and divisor in the pod spec"
        case .malformedCgroupFile(let path, let content, let expected):
            return "cannot parse \(path): \(content), expected \(expected) — is this a cgroup filesystem "
                + "(a different --root, or cgroup v1 and v2 mixed up)?"
        }
    }
}
