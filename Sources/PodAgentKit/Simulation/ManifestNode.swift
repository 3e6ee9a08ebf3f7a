/// A problem in a manifest, located by file and field path (`spec.containers[0].env[2].valueFrom`).
public struct ManifestError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var fieldPath: String
    public var message: String

    public init(file: String, fieldPath: String, message: String) {
        self.file = file
        self.fieldPath = fieldPath
        self.message = message
    }

    public var description: String {
        fieldPath.isEmpty ? "\(file): \(message)" : "\(file): \(fieldPath): \(message)"
    }
}

/// A YAML node together with where it came from, so every accessor can produce an error that names the
/// file and the field path. Scalar typing follows what the API server's YAML→JSON conversion does
/// (sigs.k8s.io/yaml, YAML 1.1 rules): `yes`, `on`, `123` are not strings, and a string field holding one
/// is rejected, as `kubectl apply` would reject it.
struct ManifestNode {
    let node: YAMLNode
    let file: String
    let path: String

    init(_ node: YAMLNode, file: String, path: String = "") {
        self.node = node
        self.file = file
        self.path = path
    }

    func error(_ message: String) -> ManifestError {
        ManifestError(file: file, fieldPath: path, message: message)
    }

    private func childPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    // MARK: kinds of node

    var isNull: Bool {
        if case .scalar(let s) = node, s.style == .plain, Self.nullWords.contains(s.string) { return true }
        return false
    }

    func mapping() throws(ManifestError) -> [(key: String, value: ManifestNode)] {
        guard case .mapping(let m) = node else {
            throw error("expected a mapping (key: value), found \(kindDescription)")
        }
        var result: [(key: String, value: ManifestNode)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw error("mapping keys must be strings") }
            result.append((ks.string, ManifestNode(v, file: file, path: childPath(ks.string))))
        }
        return result
    }

    func sequence() throws(ManifestError) -> [ManifestNode] {
        guard case .sequence(let s) = node else {
            throw error("expected a list, found \(kindDescription)")
        }
        return s.enumerated().map { ManifestNode($0.element, file: file, path: "\(path)[\($0.offset)]") }
    }

    /// The child at `key`, or nil when absent or `null`.
    subscript(key: String) -> ManifestNode? {
        guard case .mapping(let m) = node else { return nil }
        for (k, v) in m {
            if case .scalar(let ks) = k, ks.string == key {
                let child = ManifestNode(v, file: file, path: childPath(key))
                return child.isNull ? nil : child
            }
        }
        return nil
    }

    func string() throws(ManifestError) -> String {
        guard case .scalar(let s) = node else { throw error("expected a string, found \(kindDescription)") }
        if s.style == .plain, let kind = Self.nonStringKind(s.string) {
            throw error("expected a string, found the \(kind) \(s.string) — quote it (\"\(s.string)\")")
        }
        return s.string
    }

    func int() throws(ManifestError) -> Int64 {
        guard case .scalar(let s) = node, s.style == .plain, let v = Self.parseInt(s.string) else {
            throw error("expected an integer, found \(kindDescription)")
        }
        return v
    }

    func bool() throws(ManifestError) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain else {
            throw error("expected true or false, found \(kindDescription)")
        }
        if Self.trueWords.contains(s.string) { return true }
        if Self.falseWords.contains(s.string) { return false }
        throw error("expected true or false, found \(kindDescription)")
    }

    /// A resource quantity: a string, or a plain YAML number (`cpu: 1`, `cpu: 0.5`), as the API accepts.
    func quantityText() throws(ManifestError) -> String {
        guard case .scalar(let s) = node else { throw error("expected a quantity, found \(kindDescription)") }
        return s.string
    }

    /// `map[string]string` fields such as labels, annotations and ConfigMap `data`.
    func stringMap() throws(ManifestError) -> [String: String] {
        var result: [String: String] = [:]
        for (k, v) in try mapping() {
            if v.isNull { result[k] = ""; continue }
            result[k] = try v.string()
        }
        return result
    }

    var kindDescription: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s):
            if s.style == .plain, let kind = Self.nonStringKind(s.string) { return "the \(kind) \(s.string)" }
            return "the string \"\(s.string)\""
        }
    }

    // MARK: YAML 1.1 scalar resolution (what sigs.k8s.io/yaml sees)

    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trueWords: Set<String> = ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
    static let falseWords: Set<String> = ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]

    static func nonStringKind(_ s: String) -> String? {
        if nullWords.contains(s) { return "null" }
        if trueWords.contains(s) || falseWords.contains(s) { return "boolean" }
        if parseInt(s) != nil { return "number" }
        if isFloat(s) { return "number" }
        return nil
    }

    /// YAML 1.1 integers: decimal, `0o17`/`017` octal, `0x1F` hex, `0b101` binary, with `_` separators.
    static func parseInt(_ raw: String) -> Int64? {
        var s = Substring(raw.replacingOccurrences(of: "_", with: ""))
        var negative = false
        if s.first == "-" || s.first == "+" { negative = s.first == "-"; s = s.dropFirst() }
        guard !s.isEmpty else { return nil }
        var radix = 10
        if s.hasPrefix("0x") { radix = 16; s = s.dropFirst(2) }
        else if s.hasPrefix("0o") { radix = 8; s = s.dropFirst(2) }
        else if s.hasPrefix("0b") { radix = 2; s = s.dropFirst(2) }
        else if s.count > 1 && s.hasPrefix("0") { radix = 8; s = s.dropFirst() }
        guard !s.isEmpty, let magnitude = Int64(s, radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    static func isFloat(_ s: String) -> Bool {
        if [".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN"].contains(s) { return true }
        var sawDigit = false, sawDot = false, sawExp = false, previous: Character = " "
        for (i, c) in s.enumerated() {
            switch c {
            case "0"..."9": sawDigit = true
            case "+", "-": if i != 0 && previous != "e" && previous != "E" { return false }
            case ".": if sawDot || sawExp { return false }; sawDot = true
            case "e", "E": if sawExp || !sawDigit { return false }; sawExp = true
            case "_": break
            default: return false
            }
            previous = c
        }
        return sawDigit && (sawDot || sawExp)
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        return split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
