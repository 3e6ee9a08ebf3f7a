import Mustache

/// The pod's data tree as the Mustache library sees it.
///
/// - objects become ``TemplateObject``s; lists become arrays, so `{{#pod.ips}}…{{/pod.ips}}` repeats
///   once per item;
/// - strings become text (bytes that are not UTF-8 are kept exactly, see ``TemplateText``);
/// - integers and bools stay numbers and bools (`{{cpus}}` → `2`, a bool works as a section);
/// - `null` (a value the pod does not know) becomes ``TemplateNull``: falsy in sections, and an
///   error when rendered as a variable unless it is optional (see ``PodTemplate``).
enum TemplateContext {
    static func value(_ podValue: PodValue) -> Any {
        switch podValue {
        case .null: return TemplateNull()
        case .bool(let flag): return flag
        // Int, not Int64: the library's integer transforms (`plusone(cpus)`…) are declared on Int.
        case .integer(let number): return Int(number)
        case .string(let bytes): return TemplateText.decode(bytes)
        case .list(let items): return items.map(value) as [Any]
        case .object(let members): return TemplateObject(members)
        }
    }

    /// The name a key is also reachable by in a template: every byte other than an ASCII letter,
    /// digit or `_` becomes `_` (`example.com/log-level` → `example_com_log_level`), the same rule as
    /// `podagent env`'s variable names without the uppercasing. Mustache names cannot hold `/`, and a
    /// `.` separates names, so label and annotation keys need this second name.
    static func alias(_ key: String) -> String {
        String(decoding: key.utf8.map { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                return byte
            default:
                return UInt8(ascii: "_")
            }
        }, as: UTF8.self)
    }
}

/// An object of the pod's data tree: members by key, and by ``TemplateContext/alias(_:)``.
///
/// Not a `Dictionary`, so that the aliases do not show up twice when a template iterates the members
/// with `{{#sorted(labels)}}{{key}}={{value}}{{/sorted(labels)}}` (or `enumerated(…)` for the tree's
/// own order); `count(…)` and `empty(…)` work as on dictionaries.
struct TemplateObject: MustacheParent, MustacheTransformable {
    let entries: [TemplateObject]
    let index: [String: Any]

    init(_ members: [PodValue.Member]) {
        var index: [String: Any] = [:]
        var entries: [TemplateObject] = []
        for member in members {
            let value = TemplateContext.value(member.value)
            index[member.key] = value
            entries.append(TemplateObject(entry: member.key, value))
        }
        // An alias never hides a real key; two keys with the same alias get neither, and a marker
        // that explains why, rather than one picked by chance.
        var aliasOwners: [String: [String]] = [:]
        for member in members {
            let alias = TemplateContext.alias(member.key)
            guard alias != member.key, index[alias] == nil else { continue }
            aliasOwners[alias, default: []].append(member.key)
        }
        for (alias, owners) in aliasOwners {
            let unique = Array(Set(owners)).sorted()
            if unique.count == 1 {
                index[alias] = index[unique[0]]
            } else {
                index[alias] = TemplateAmbiguousName(keys: unique)
            }
        }
        self.index = index
        self.entries = entries
    }

    private init(entry key: String, _ value: Any) {
        self.index = ["key": key, "value": value]
        self.entries = []
    }

    func child(named name: String) -> Any? {
        index[name]
    }

    func transform(_ name: String) -> Any? {
        switch name {
        case "count": return entries.count
        case "empty": return entries.isEmpty
        case "enumerated": return entries as [Any]
        case "sorted":
            // Byte-wise, like the kubelet's own ordering of labels and annotations.
            return entries.sorted { a, b in
                Array(((a.index["key"] as? String) ?? "").utf8)
                    .lexicographicallyPrecedes(((b.index["key"] as? String) ?? "").utf8)
            } as [Any]
        default: return nil
        }
    }
}

/// A value the pod does not know (`null` in the tree): falsy in sections, empty as text.
struct TemplateNull: MustacheCustomRenderable {
    var renderText: String { "" }
    var isNull: Bool { true }
}

/// The alias that two keys share, kept so the error can name both keys.
struct TemplateAmbiguousName: MustacheCustomRenderable {
    let keys: [String]
    var renderText: String { "" }
    var isNull: Bool { true }
}
