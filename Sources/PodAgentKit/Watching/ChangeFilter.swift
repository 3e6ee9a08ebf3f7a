// Which changes matter to the consumer: `--include` / `--exclude` globs on file paths and
// `--on-label` / `--on-annotation` keys. Applied per changed file, so a change set that only touches
// filtered-out files is not emitted at all.

import Glibc

/// The filters of a `WatchConfiguration`, applied to each changed file.
struct ChangeFilter: Sendable {
    var include: [String]
    var exclude: [String]
    var onLabels: Set<String>
    var onAnnotations: Set<String>
    var mapNames: DownwardMapNames

    init(include: [String] = [], exclude: [String] = [], onLabels: [String] = [], onAnnotations: [String] = [],
         mapNames: DownwardMapNames = .standard) {
        self.include = include
        self.exclude = exclude
        self.onLabels = Set(onLabels)
        self.onAnnotations = Set(onAnnotations)
        self.mapNames = mapNames
    }

    /// The globs: fnmatch(3) without flags against the path relative to the volume root, so `*`
    /// also crosses `/` (`*.conf` matches `conf.d/site.conf`). Exclude wins over include; no
    /// include pattern means everything is included.
    func admitsPath(_ path: String) -> Bool {
        if exclude.contains(where: { Self.matches($0, path) }) { return false }
        return include.isEmpty || include.contains { Self.matches($0, path) }
    }

    /// Whether a change of the file at `path` counts. For a `labels` / `annotations` file, when keys
    /// are listed, only a change of one of them counts; `changedKeys` is nil when the file is not a
    /// downwardAPI map (on either side), and then the change counts, as for any other file.
    func admits(_ path: String, changedKeys: [String]?) -> Bool {
        guard admitsPath(path) else { return false }
        let keys: Set<String>
        switch mapNames.kind(of: path) {
        case .labels: keys = onLabels
        case .annotations: keys = onAnnotations
        case nil: return true
        }
        guard !keys.isEmpty, let changedKeys else { return true }
        return changedKeys.contains(where: keys.contains)
    }

    static func matches(_ pattern: String, _ path: String) -> Bool {
        fnmatch(pattern, path, 0) == 0
    }
}
