/// Splits a command given as one flag value (`--exec 'nginx -s reload'`) into an argument vector the
/// way a POSIX shell would for a simple command — quotes and backslashes only; nothing is expanded.
///
/// ```swift
/// try ShellWords.split(#"nginx -g 'daemon off;' -c "/etc/nginx/my conf""#)
/// // ["nginx", "-g", "daemon off;", "-c", "/etc/nginx/my conf"]
/// ```
///
/// Rules (POSIX Shell Command Language §2.2): blanks separate words; `'…'` is literal; inside
/// `"…"` a backslash escapes only `"`, `\`, `$` and a backquote (and drops a newline); outside
/// quotes a backslash makes the next character literal; adjacent pieces join into one word (`a'b'c`
/// is `abc`, `''` is an empty word). Characters that need a shell to mean anything — unquoted
/// `| & ; < > ( )`, and `$` or a backquote outside single quotes — are rejected with a pointer to
/// `--shell`, rather than passed on literally to a program that would then misbehave quietly.
/// Glob characters (`* ? [`) and `~` are passed on literally.
public enum ShellWords {
    public static func split(_ text: String) throws(ShellWordsError) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var inWord = false
        var index = 0

        func fail(_ reason: ShellWordsError.Reason, at position: Int) -> ShellWordsError {
            ShellWordsError(reason: reason, text: text, column: position + 1)
        }

        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case " ", "\t", "\n":
                if inWord {
                    words.append(String(word))
                    word = String.UnicodeScalarView()
                    inWord = false
                }
                index += 1
            case "'":
                let start = index
                inWord = true
                index += 1
                while index < scalars.count && scalars[index] != "'" {
                    word.append(scalars[index])
                    index += 1
                }
                guard index < scalars.count else { throw fail(.unterminatedSingleQuote, at: start) }
                index += 1
            case "\"":
                let start = index
                inWord = true
                index += 1
                while true {
                    guard index < scalars.count else { throw fail(.unterminatedDoubleQuote, at: start) }
                    let inner = scalars[index]
                    if inner == "\"" {
                        index += 1
                        break
                    }
                    if inner == "\\" && index + 1 < scalars.count {
                        let next = scalars[index + 1]
                        if next == "\n" {
                            index += 2
                            continue
                        }
                        if next == "\"" || next == "\\" || next == "$" || next == "`" {
                            word.append(next)
                            index += 2
                            continue
                        }
                    }
                    if inner == "$" || inner == "`" {
                        throw fail(.needsShell(String(inner)), at: index)
                    }
                    word.append(inner)
                    index += 1
                }
            case "\\":
                guard index + 1 < scalars.count else { throw fail(.trailingBackslash, at: index) }
                if scalars[index + 1] != "\n" {
                    word.append(scalars[index + 1])
                    inWord = true
                }
                index += 2
            case "|", "&", ";", "<", ">", "(", ")", "$", "`":
                throw fail(.needsShell(String(scalar)), at: index)
            case "#" where !inWord:
                // A comment in a shell; passed on, `# reload nginx` would become three arguments.
                throw fail(.needsShell("#"), at: index)
            default:
                word.append(scalar)
                inWord = true
                index += 1
            }
        }
        if inWord { words.append(String(word)) }
        return words
    }

    /// The argument vector for a command flag: split like a shell, or with `shell` (`--shell`)
    /// handed whole to `/bin/sh -c` for pipes, redirections and variables.
    public static func argv(for text: String, shell: Bool) throws(ShellWordsError) -> [String] {
        if shell {
            guard text.contains(where: { !$0.isWhitespace }) else {
                throw ShellWordsError(reason: .empty, text: text, column: 1)
            }
            return ["/bin/sh", "-c", text]
        }
        let words = try split(text)
        guard !words.isEmpty else { throw ShellWordsError(reason: .empty, text: text, column: 1) }
        return words
    }

    /// One word quoted so that `split` (and a shell) gives it back unchanged; bare when that is safe.
    public static func quote(_ word: String) -> String {
        let safe = !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".", "/", ":", "=", ",", "+", "@", "%": return true
            default: return false
            }
        }
        if safe { return word }
        return "'" + word.replacing("'", with: #"'\''"#) + "'"
    }

    /// A command line for messages and logs, each word quoted as needed.
    public static func join(_ argv: [String]) -> String {
        argv.map(quote).joined(separator: " ")
    }
}

/// A command flag that cannot be split into words, with the column where the problem starts.
public struct ShellWordsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong.
    public enum Reason: Sendable, Equatable {
        case empty
        case unterminatedSingleQuote
        case unterminatedDoubleQuote
        case trailingBackslash
        /// Shell syntax (the character is given) that only `--shell` can honour.
        case needsShell(String)
    }

    public var reason: Reason
    public var text: String
    /// 1-based, in Unicode scalars.
    public var column: Int

    public var description: String {
        switch reason {
        case .empty:
            return "empty command"
        case .unterminatedSingleQuote:
            return "unbalanced quotes in \(quoted): the ' at column \(column) is never closed"
        case .unterminatedDoubleQuote:
            return "unbalanced quotes in \(quoted): the \" at column \(column) is never closed"
        case .trailingBackslash:
            return "\(quoted) ends with a lone backslash"
        case .needsShell(let character):
            return "\(quoted) uses shell syntax (\(character) at column \(column)), but the command runs without a shell — quote it, or add --shell to run it with /bin/sh -c"
        }
    }

    private var quoted: String { "`\(text)`" }
}
