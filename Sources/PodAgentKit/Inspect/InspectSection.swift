/// One section of `podagent inspect`'s report ("volumes", "service account", …): what a person reads
/// as aligned rows, what a script reads as `value` (JSON / YAML), and the warnings that matter.
///
/// Sections never carry secret material: no secret-volume content or digest, no token, no value of an
/// env var whose name looks secret. Sizes, names, modes, claims and ages only.
public struct InspectSection: Sendable, Equatable {
    /// The key of the section in `-o json` (`identity`, `volumes`, `serviceAccount`, …).
    public var key: String
    /// The heading in text output ("Service account").
    public var title: String
    /// Text rows in order; `indent` nests rows under the one before (a volume's files under the volume).
    public var rows: [Row]
    /// Things that are wrong or surprising, each one sentence saying what and what to do.
    public var warnings: [String]
    /// The section in the documented JSON/YAML schema.
    public var value: PodValue

    /// One `label  value` line of the text output.
    public struct Row: Sendable, Equatable {
        public var label: String
        public var value: String
        public var indent: Int

        public init(_ label: String, _ value: String, indent: Int = 0) {
            self.label = label
            self.value = value
            self.indent = indent
        }
    }

    public init(key: String, title: String, rows: [Row] = [], warnings: [String] = [], value: PodValue) {
        self.key = key
        self.title = title
        self.rows = rows
        self.warnings = warnings
        self.value = value
    }
}
