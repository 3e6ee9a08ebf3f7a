// How podagent knows what a resource env var or downward file holds. The kubelet writes only a
// number (ceil(quantity / divisor), KUBELET.md §3): which resource and which divisor are in the
// pod spec, not in the container. So they are either declared (`--resource NAME=limits.cpu/1m`)
// or read from the name, by a convention (`CONTAINER_CPU_LIMIT_MILLICORES`).

/// `--resource NAME=requests.cpu/1m`: the env var or downwardAPI file `NAME` holds the
/// `resourceFieldRef` with that resource and divisor.
///
/// ```swift
/// let declaration = try ResourceDeclaration(parsing: "MEM=limits.memory/1Mi")
/// declaration.name                // "MEM"
/// declaration.divisor.selector    // limits.memory
/// ```
///
/// The divisor is optional (`GOMAXPROCS=limits.cpu` divides by 1, as the kubelet does for an
/// unset divisor) and is checked with the API server's own rules, so a declaration describes a
/// field that could exist.
public struct ResourceDeclaration: Sendable, Hashable, CustomStringConvertible {
    /// An env var name, or a file name in the downwardAPI directory; both are looked up.
    public var name: String
    /// The selector (`divisor.selector`) and the divisor the kubelet divided by.
    public var divisor: Divisor

    public init(name: String, divisor: Divisor) {
        self.name = name
        self.divisor = divisor
    }

    /// Parses `NAME=<requests|limits>.<cpu|memory|ephemeral-storage>[/DIVISOR]`.
    public init(parsing text: String) throws(ResourceDeclarationError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw ResourceDeclarationError(text: text, reason: "no '='")
        }
        let name = String(text[..<equals])
        let field = text[text.index(after: equals)...]
        guard !name.isEmpty else { throw ResourceDeclarationError(text: text, reason: "the name before '=' is empty") }
        guard !name.contains("/"), !name.hasPrefix(".") else {
            throw ResourceDeclarationError(
                text: text, reason: "\(String(reflecting: name)) is neither an env var name nor a file name in the downward directory")
        }
        let selectorText: Substring
        let divisorText: Substring?
        if let slash = field.firstIndex(of: "/") {
            selectorText = field[..<slash]
            divisorText = field[field.index(after: slash)...]
        } else {
            selectorText = field
            divisorText = nil
        }
        do {
            let selector = try ResourceFieldSelector(parsing: String(selectorText))
            if case .hugepages = selector.resource {
                throw ResourceDeclarationError(
                    text: text, reason: "hugepages are not part of the pod model; only cpu, memory and ephemeral-storage are")
            }
            let quantity: Quantity?
            do {
                quantity = try divisorText.map { text throws(QuantityError) in try Quantity(parsing: String(text)) }
            } catch {
                throw ResourceDeclarationError(text: text, reason: "divisor: \(error)")
            }
            self.init(name: name, divisor: try Divisor(quantity, for: selector))
        } catch let error as ResourceDeclarationError {
            throw error
        } catch {
            throw ResourceDeclarationError(text: text, reason: "\(error)")
        }
    }

    /// The declaration as written on the command line, with the divisor made explicit.
    public var description: String {
        "\(name)=\(divisor.selector)/\(divisor.quantity)"
    }
}

/// A `--resource` argument that is not `NAME=<requests|limits>.<resource>[/DIVISOR]`: a usage error.
public struct ResourceDeclarationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var reason: String

    public var description: String {
        "--resource \(String(reflecting: text)): \(reason) (expected NAME=<requests|limits>.<cpu|memory|ephemeral-storage>[/DIVISOR], "
            + "e.g. CPU_LIMIT=limits.cpu/1m or MEM=requests.memory/1Mi)"
    }
}

// MARK: - The naming convention

/// Recognises a resource value by its name: `<any prefix><resource><kind><unit>`, compared
/// case- and separator-insensitively (`_`, `-`, `.` and camelCase boundaries do not matter), so
/// `CONTAINER_CPU_REQUEST_MILLICORES`, `MY_APP_MEMORY_LIMIT_MEBIBYTES`, the downward file
/// `containerMemoryLimitBytes` and `ephemeral-storage-limit-gib` are all recognised.
///
/// - resource: `cpu`, `memory`, `ephemeral storage` (also written `ephemeral-storage`, `EphemeralStorage`);
/// - kind: `request`, `requests`, `limit`, `limits`;
/// - unit: one of ``cpuUnits`` or ``byteUnits``, which fixes the divisor. Decimal names are
///   decimal (`MB` = `1M` = 10^6 bytes), binary names binary (`MiB`, `Mi` = `1Mi`): the name is
///   taken literally, because the pod spec's divisor is not visible from inside the container.
///
/// A name whose resource and kind stand as whole words but whose unit is unknown
/// (`CPU_LIMIT_PERCENT`) is ``Recognition/unknownUnit(_:unit:)``; with no unit at all
/// (`MY_CPU_LIMIT`, the Kubernetes docs' own example) it is ``Recognition/missingUnit(_:)``:
/// such a value cannot be read without knowing its divisor, so it needs a declaration.
public enum ResourceNameConvention {
    /// A unit a name can end with: its canonical name, the other spellings accepted, and the
    /// `resourceFieldRef` divisor it stands for.
    public struct Unit: Sendable, Hashable {
        public var name: String
        public var synonyms: [String]
        public var divisor: String

        /// `mebibytes (mebibyte, mib, mi) = 1Mi`, for error messages and help text.
        public var summary: String {
            synonyms.isEmpty ? name : "\(name) (\(synonyms.joined(separator: ", ")))"
        }
    }

    /// Units of `cpu`: divisor `1m` or `1`, the only two the API server allows.
    public static let cpuUnits: [Unit] = [
        Unit(name: "millicores", synonyms: ["millicore", "millicpus", "millicpu"], divisor: "1m"),
        Unit(name: "cores", synonyms: ["core", "cpus", "cpu"], divisor: "1"),
    ]

    /// Units of `memory` and `ephemeral storage`: one per divisor the API server allows.
    public static let byteUnits: [Unit] = [
        Unit(name: "bytes", synonyms: ["byte", "b"], divisor: "1"),
        Unit(name: "kilobytes", synonyms: ["kilobyte", "kb"], divisor: "1k"),
        Unit(name: "kibibytes", synonyms: ["kibibyte", "kib", "ki"], divisor: "1Ki"),
        Unit(name: "megabytes", synonyms: ["megabyte", "mb"], divisor: "1M"),
        Unit(name: "mebibytes", synonyms: ["mebibyte", "mib", "mi"], divisor: "1Mi"),
        Unit(name: "gigabytes", synonyms: ["gigabyte", "gb"], divisor: "1G"),
        Unit(name: "gibibytes", synonyms: ["gibibyte", "gib", "gi"], divisor: "1Gi"),
        Unit(name: "terabytes", synonyms: ["terabyte", "tb"], divisor: "1T"),
        Unit(name: "tebibytes", synonyms: ["tebibyte", "tib", "ti"], divisor: "1Ti"),
        Unit(name: "petabytes", synonyms: ["petabyte", "pb"], divisor: "1P"),
        Unit(name: "pebibytes", synonyms: ["pebibyte", "pib", "pi"], divisor: "1Pi"),
        Unit(name: "exabytes", synonyms: ["exabyte", "eb"], divisor: "1E"),
        Unit(name: "exbibytes", synonyms: ["exbibyte", "eib", "ei"], divisor: "1Ei"),
    ]

    /// The units a resource's names can end with.
    public static func units(for resource: ContainerResource) -> [Unit] {
        resource == .cpu ? cpuUnits : byteUnits
    }

    /// What a name says about the value it holds.
    public enum Recognition: Sendable, Hashable {
        /// Not a resource name.
        case none
        /// A resource value with a known divisor.
        case resource(Divisor)
        /// `<resource><kind>` with nothing after it: the divisor is unknown.
        case missingUnit(ResourceFieldSelector)
        /// `<resource><kind><unit>` with a unit that is none of ``units(for:)`` (normalised:
        /// lower case, separators removed).
        case unknownUnit(ResourceFieldSelector, unit: String)
    }

    static let resourceWords: [(word: String, resource: ContainerResource)] = [
        ("cpu", .cpu), ("memory", .memory), ("ephemeralstorage", .ephemeralStorage),
    ]
    // Longest first, so "limits" + "cores" is tried before "limit" + "scores".
    static let kindWords: [(word: String, isLimit: Bool)] = [
        ("requests", false), ("request", false), ("limits", true), ("limit", true),
    ]

    public static func recognise(_ name: String) -> Recognition {
        // 1. Fully insensitive: lower case, separators dropped, and the unit must be the whole
        //    rest of the name. Any prefix is allowed, so try every position. Bytes rather than
        //    Characters: every name in the environment passes through here on each start.
        let normalised = normalise(name)
        var anyResourceWord = false
        for start in normalised.indices {
            let rest = normalised[start...]
            for (word, resource) in resourceWords where rest.starts(with: word.utf8) {
                anyResourceWord = true
                let afterResource = rest.dropFirst(word.utf8.count)
                for (kind, isLimit) in kindWords where afterResource.starts(with: kind.utf8) {
                    let unitText = String(decoding: afterResource.dropFirst(kind.utf8.count), as: UTF8.self)
                    if let divisor = divisor(unit: unitText, selector: ResourceFieldSelector(isLimit: isLimit, resource: resource)) {
                        return .resource(divisor)
                    }
                }
            }
        }
        // Every name that step 2 could match contains a resource word once separators are gone.
        guard anyResourceWord else { return .none }
        // 2. No known unit. Only a name where resource and kind are whole words is meant as a
        //    resource name; `CPU_LIMITER_ENABLED` or `MEMORYLIMITED` are not, and stay unrecognised.
        let words = self.words(name)
        var index = words.count - 1
        while index >= 0 {
            var resource: ContainerResource?
            var next = index + 1
            switch words[index] {
            case "cpu": resource = .cpu
            case "memory": resource = .memory
            case "ephemeralstorage": resource = .ephemeralStorage
            case "ephemeral" where index + 1 < words.count && words[index + 1] == "storage":
                resource = .ephemeralStorage
                next = index + 2
            default: break
            }
            if let resource, next < words.count, let kind = kindWords.first(where: { $0.word == words[next] }) {
                let selector = ResourceFieldSelector(isLimit: kind.isLimit, resource: resource)
                let unit = words[(next + 1)...].joined()
                return unit.isEmpty ? .missingUnit(selector) : .unknownUnit(selector, unit: unit)
            }
            index -= 1
        }
        return .none
    }

    static func divisor(unit: String, selector: ResourceFieldSelector) -> Divisor? {
        guard let match = units(for: selector.resource).first(where: { $0.name == unit || $0.synonyms.contains(unit) }) else {
            return nil
        }
        // The table holds only divisors the API server accepts, so neither step can fail.
        return try? Divisor(Quantity(parsing: match.divisor), for: selector)
    }

    static func isSeparator(_ c: Character) -> Bool {
        !(c.isLetter || c.isNumber)
    }

    /// ASCII letters lower-cased, digits kept, ASCII punctuation dropped; non-ASCII bytes are
    /// kept and simply never match.
    static func normalise(_ name: String) -> [UInt8] {
        name.utf8.compactMap { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte + 32
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), 0x80...: byte
            default: nil
            }
        }
    }

    /// Lower-cased words: split at separators and at camelCase boundaries (`memoryLimitMiB` →
    /// memory, limit, mi, b; `CPULimit` → cpu, limit).
    static func words(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        let characters = Array(name)
        for (i, c) in characters.enumerated() {
            if isSeparator(c) {
                if !current.isEmpty { words.append(current) }
                current = ""
                continue
            }
            if c.isUppercase, !current.isEmpty {
                let previous = characters[i - 1]
                let nextIsLower = i + 1 < characters.count && characters[i + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) {
                    words.append(current)
                    current = ""
                }
            }
            current += c.lowercased()
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
