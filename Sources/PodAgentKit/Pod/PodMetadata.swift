/// Which whole-map downwardAPI file: `metadata.labels` or `metadata.annotations`.
public enum MetadataKind: String, Sendable, Hashable {
    case labels
    case annotations
}

/// The pod's labels or annotations as the downwardAPI volume shows them: keys sorted
/// byte-wise, values as their exact bytes (a value can hold any bytes through Go's `\xNN`).
///
/// ```swift
/// let labels = try PodMetadata.load(.labels, from: "/etc/podinfo/labels")
/// labels?["app"]   // Array("web".utf8), or nil when there is no such label
/// // labels == nil: no labels file — unknown, which is not the same as no labels
/// ```
public struct PodMetadata: Sendable, Hashable {
    /// One label or annotation.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: [UInt8]

        public init(key: String, value: [UInt8]) {
            self.key = key
            self.value = value
        }
    }

    /// Sorted by the keys' UTF-8 bytes, each key once.
    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    public subscript(key: String) -> [UInt8]? {
        entries.first { $0.key == key }?.value
    }

    /// Reads a labels or annotations file with ``DownwardAPIMap/parseEntries(_:)``.
    ///
    /// - Returns: nil when the file does not exist (no downwardAPI item for it, or no volume):
    ///   the values are unknown, so they are reported absent rather than empty.
    /// - Throws: ``PodViewError/malformedMetadataFile(path:kind:error:)`` with the line number
    ///   when a line is not `key="value"`: the kubelet never writes one, so the path most likely
    ///   names another file.
    public static func load(_ kind: MetadataKind, from path: String) throws(PodViewError) -> PodMetadata? {
        guard let bytes = try readPodFileIfPresent(path) else { return nil }
        let parsed: [(key: String, value: [UInt8])]
        do {
            parsed = try DownwardAPIMap.parseEntries(bytes)
        } catch {
            throw .malformedMetadataFile(path: path, kind: kind, error: error)
        }
        // The kubelet writes each key once and sorted; for any other file, the last line wins
        // (as when the lines are read into a map) and the order is made byte-wise.
        var byKey: [String: [UInt8]] = [:]
        for entry in parsed {
            byKey[entry.key] = entry.value
        }
        let entries = byKey
            .map { Entry(key: $0.key, value: $0.value) }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return PodMetadata(entries: entries)
    }
}
