// The downwardAPI volume's whole-map files: `metadata.labels` and `metadata.annotations`.
//
// Mirrors kubernetes/kubernetes pkg/fieldpath/fieldpath.go FormatMap (see KUBELET.md §2).

/// The file format the kubelet uses for a downwardAPI `metadata.labels` or
/// `metadata.annotations` item: one `key="value"` line per entry.
///
/// ```swift
/// DownwardAPIMap.format(["zone": "us-est-coast", "rack": "rack-22"])
/// // rack="rack-22"\nzone="us-est-coast"      (bytes; no trailing newline)
/// try DownwardAPIMap.parse(Array("rack=\"rack-22\"\nzone=\"us-est-coast\"".utf8))
/// // ["rack": "rack-22", "zone": "us-est-coast"]
/// ```
///
/// Keys are written raw, values with Go's `%q` (``GoQuote``),
/// keys in byte-wise order. A Swift `[String: String]` cannot hold two keys that are
/// canonically equivalent (`"é"` and `"e\u{301}"`), which Go's byte-string map can; Kubernetes
/// label and annotation keys are ASCII, so this does not arise in practice.
public enum DownwardAPIMap {
    /// A line of a labels/annotations file that is not `key="value"`.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// 1-based line number in the file.
        public let lineNumber: Int
        /// The offending line's bytes, Go-quoted so control characters and invalid UTF-8 show.
        public let line: String
        /// What is wrong with it.
        public let reason: String

        public init(lineNumber: Int, line: String, reason: String) {
            self.lineNumber = lineNumber
            self.line = line
            self.reason = reason
        }

        public var description: String {
            "line \(lineNumber) of the downwardAPI labels/annotations file is malformed: \(reason): \(line) "
                + "(expected key=\"value\" with a Go-quoted value, as the kubelet writes it)"
        }
    }

    /// FormatMap: the exact bytes the kubelet writes for `map`.
    ///
    /// An empty map gives an empty file.
    public static func format(_ map: [String: String]) -> [UInt8] {
        // fieldpath.go FormatMap:
        // 1. Sort the keys with sort.Strings, which compares Go strings as bytes. Swift's
        //    String `<` compares canonically-normalized scalars ("A\u{30A}" sorts after "B"
        //    there, before it here), so compare the UTF-8 instead.
        let entries = map
            .map { (key: Array($0.key.utf8), value: $0.value) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var dst: [UInt8] = []
        dst.reserveCapacity(entries.reduce(0) { $0 + $1.key.count + $1.value.utf8.count + 4 })
        for entry in entries {
            // 2. Lines are separated, not terminated, by '\n'.
            if !dst.isEmpty {
                dst.append(UInt8(ascii: "\n"))
            }
            // 3. key=, then strconv.AppendQuote(value).
            dst.append(contentsOf: entry.key)
            dst.append(UInt8(ascii: "="))
            dst.append(contentsOf: GoQuote.quotedBytes(entry.value.utf8))
        }
        return dst
    }

    /// Parses a labels/annotations file into a dictionary.
    ///
    /// Accepts every file any kubelet wrote: sorted or not (kubelets before FormatMap sorted
    /// wrote Go map order), with or without one trailing newline (the oldest ones ended every
    /// line with `\n`). Each line is split on its first `=`; the rest must be a Go
    /// double-quoted string, so values may contain `=`, `"` and escaped newlines.
    ///
    /// - A repeated key: the last line wins, as when the lines are read into a map.
    /// - A value that is not valid UTF-8 (the file can hold any bytes through `\xNN`) is
    ///   decoded with U+FFFD replacement, using Swift's policy of one U+FFFD per maximal
    ///   invalid subsequence (Go's `for range` would give one per byte). Use
    ///   ``parseEntries(_:)`` for the exact bytes.
    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> [String: String] {
        var map: [String: String] = [:]
        for entry in try parseEntries(bytes) {
            map[entry.key] = String(decoding: entry.value, as: UTF8.self)
        }
        return map
    }

    /// Parses a labels/annotations file into its entries, in file order, duplicates kept,
    /// values as the exact unquoted bytes.
    ///
    /// Same format rules as ``parse(_:)``. Keys must be non-empty UTF-8.
    public static func parseEntries(
        _ bytes: some Collection<UInt8>
    ) throws(ParseError) -> [(key: String, value: [UInt8])] {
        var content = Array(bytes)
        // 1. One trailing newline is tolerated; an empty file (or a lone "\n") is an empty map.
        if content.last == UInt8(ascii: "\n") {
            content.removeLast()
        }
        if content.isEmpty {
            return []
        }
        // 2. Values are quoted, so a raw '\n' can only separate lines.
        var entries: [(key: String, value: [UInt8])] = []
        for (index, line) in content.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            func malformed(_ reason: String) -> ParseError {
                ParseError(lineNumber: index + 1, line: GoQuote.quote(line), reason: reason)
            }
            // 3. Split on the first '=' only; keys never contain one, values may.
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
                throw malformed(line.isEmpty ? "empty line" : "no '='")
            }
            let keyBytes = line[line.startIndex..<equals]
            let valueBytes = line[(equals + 1)...]
            guard !keyBytes.isEmpty else {
                throw malformed("empty key")
            }
            guard GoQuote.isValidUTF8(Array(keyBytes), from: 0, to: keyBytes.count) else {
                throw malformed("key is not valid UTF-8")
            }
            let key = String(decoding: keyBytes, as: UTF8.self)
            // 4. The kubelet always writes "…"; other Go literal forms would mean another writer.
            guard valueBytes.first == UInt8(ascii: "\"") else {
                throw malformed("value is not double-quoted")
            }
            do {
                entries.append((key: key, value: try GoQuote.unquote(valueBytes)))
            } catch {
                throw malformed("value is not a valid Go quoted string (\(error.reason))")
            }
        }
        return entries
    }
}
