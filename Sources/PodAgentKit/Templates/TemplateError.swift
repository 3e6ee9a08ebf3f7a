/// Why a template could not be rendered or its output written. Nothing is written when any template
/// of a render fails, so the message is all the user has to go on: each case names the file, and the
/// line and column where they apply.
public enum TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The template file could not be read.
    case unreadableTemplate(path: String, SystemError)
    /// The library rejected the template's syntax.
    case syntax(path: String, line: Int, column: Int, reason: String, lineText: String)
    /// Names that resolve to nothing (or cannot be rendered), each with its position.
    case unresolvedNames(path: String, [TemplateProblem])
    /// The directory an output should be written to does not exist.
    case missingOutputDirectory(output: String)
    /// Writing an output failed.
    case unwritableOutput(path: String, SystemError)

    public var description: String {
        switch self {
        case .unreadableTemplate(let path, let error):
            return "cannot read template \(path): \(error) — check the --template path (is its volume mounted?)"
        case .syntax(let path, let line, let column, let reason, let lineText):
            let caret = String(repeating: " ", count: max(0, column - 1)) + "^"
            return "\(path):\(line):\(column): template syntax error: \(reason)\n    \(lineText)\n    \(caret)"
        case .unresolvedNames(let path, let problems):
            return problems.map { "\(path):\($0)" }.joined(separator: "\n")
        case .missingOutputDirectory(let output):
            return "cannot write \(output): its directory does not exist — create it, or mount the volume "
                + "(e.g. an emptyDir) there; nothing was written"
        case .unwritableOutput(let path, let error):
            return "cannot write \(path): \(error) — is its directory writable by this user?"
        }
    }
}
