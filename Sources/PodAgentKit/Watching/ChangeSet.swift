// What changed, by content, between the state the consumer last received and the current one.

/// One settled change of the watched directories, emitted by `ChangeWatcher`.
///
/// It compares the content the consumer last received (or, when a change was filtered out, silently
/// absorbed) with the current content, so a set that merged several commits, because the consumer
/// was busy or `minInterval` held it back, still names every file that changed in between.
public struct ChangeSet: Sendable {
    /// 1, 2, 3… in delivery order, without gaps.
    public var sequence: Int
    /// When the first commit that contributed to this set was seen (`MOVED_TO ..data`, or the last
    /// write before a quiet period for directories the kubelet does not manage): the start of the
    /// change-to-reload latency.
    public var firstCommitSeen: ContinuousClock.Instant
    /// The directories that changed, in configuration order, only with changes that pass the filters.
    public var volumes: [VolumeChange]
    /// The content of every watched directory that this set brings the consumer to.
    public var contents: [VolumeContent]

    public init(
        sequence: Int, firstCommitSeen: ContinuousClock.Instant, volumes: [VolumeChange], contents: [VolumeContent]
    ) {
        self.sequence = sequence
        self.firstCommitSeen = firstCommitSeen
        self.volumes = volumes
        self.contents = contents
    }

    /// One line for logs and reload triggers, e.g. `/etc/config (..2026_11_23_07_45_27.57250255):
    /// modified nginx.conf | /etc/podinfo (..2026_…): modified labels; label keys app`.
    /// File names and keys only, never content.
    public var summary: String {
        volumes.map(\.summary).joined(separator: " | ")
    }
}

/// What changed in one watched directory.
public struct VolumeChange: Sendable, Hashable {
    /// The watched directory, as configured.
    public var directory: String
    /// The kubelet generation now visible through `..data`; nil for a directory the kubelet does not manage.
    public var generation: String?
    /// Paths relative to the directory, sorted byte-wise.
    public var added: [String]
    public var removed: [String]
    public var modified: [String]
    /// Keys that were added, removed or changed in the downwardAPI `labels` / `annotations` files.
    public var labelKeys: [String]
    public var annotationKeys: [String]

    public init(directory: String, generation: String? = nil, added: [String] = [], removed: [String] = [],
                modified: [String] = [], labelKeys: [String] = [], annotationKeys: [String] = []) {
        self.directory = directory
        self.generation = generation
        self.added = added
        self.removed = removed
        self.modified = modified
        self.labelKeys = labelKeys
        self.annotationKeys = annotationKeys
    }

    /// Whether no file changed.
    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && modified.isEmpty }

    /// `DIR (GENERATION): added a; modified b, c; removed d; label keys app`.
    public var summary: String {
        func list(_ label: String, _ items: [String]) -> String? {
            guard !items.isEmpty else { return nil }
            let shown = items.prefix(10).joined(separator: ", ")
            return label + " " + shown + (items.count > 10 ? " and \(items.count - 10) more" : "")
        }
        let parts = [
            list("added", added), list("modified", modified), list("removed", removed),
            list("label keys", labelKeys), list("annotation keys", annotationKeys),
        ].compactMap { $0 }
        return directory + (generation.map { " (\($0))" } ?? "") + ": " + parts.joined(separator: "; ")
    }

    /// The files that differ between `old` and `new` and pass `filter`; nil when none does.
    static func between(_ old: VolumeContent, _ new: VolumeContent, filter: ChangeFilter) -> VolumeChange? {
        var change = VolumeChange(directory: new.directory, generation: new.generation)
        var labelKeys: Set<String> = []
        var annotationKeys: Set<String> = []
        let paths = Set(old.files.keys).union(new.files.keys).sorted(by: VolumeFS.byteOrder)
        for path in paths {
            let before = old.files[path]
            let after = new.files[path]
            guard before != after else { continue }
            let kind = filter.mapNames.kind(of: path)
            let keys = kind == nil ? nil : changedKeys(path, old, new)
            guard filter.admits(path, changedKeys: keys) else { continue }
            if before == nil {
                change.added.append(path)
            } else if after == nil {
                change.removed.append(path)
            } else {
                change.modified.append(path)
            }
            if let keys {
                if kind == .labels {
                    labelKeys.formUnion(keys)
                } else {
                    annotationKeys.formUnion(keys)
                }
            }
        }
        change.labelKeys = labelKeys.sorted(by: VolumeFS.byteOrder)
        change.annotationKeys = annotationKeys.sorted(by: VolumeFS.byteOrder)
        return change.isEmpty ? nil : change
    }

    /// Keys whose value differs; a missing file counts as an empty map. Nil when either side exists
    /// but is not a downwardAPI map file.
    private static func changedKeys(_ path: String, _ old: VolumeContent, _ new: VolumeContent) -> [String]? {
        func map(_ content: VolumeContent) -> [String: String]? {
            content.files[path] == nil ? [:] : content.downwardMaps[path]
        }
        guard let before = map(old), let after = map(new) else { return nil }
        return Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted(by: VolumeFS.byteOrder)
    }

    /// Per-directory changes from `old` to `new` (both in configuration order).
    static func changes(from old: [VolumeContent], to new: [VolumeContent], filter: ChangeFilter) -> [VolumeChange] {
        zip(old, new).compactMap { between($0, $1, filter: filter) }
    }
}
