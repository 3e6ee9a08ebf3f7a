// `podagent env --format dotenv`: a file for the dotenv readers people actually use.

extension EnvFileFormat {
    /// `NAME=value` lines, one per variable, each ending in a newline, in the dialect that the common
    /// dotenv readers agree on for these values.
    ///
    /// The four readers compared (their parsers were read, and python-dotenv is tested for real):
    /// python-dotenv (1.x), Docker Compose `env_file` (compose-go), systemd `EnvironmentFile=`, and Node's
    /// `dotenv`. They agree on bare values, and on single-quoted values with no `'` or `\` in them;
    /// they disagree on every escape. So each value gets the first form that fits:
    ///
    /// 1. **Bare** — `NAME=value` — when the value is not empty and has only ASCII letters, digits and
    ///    `_ - . / : , @ + =`. Every reader takes it as it is (none of them can see a comment, quote,
    ///    escape, variable or whitespace in it).
    /// 2. **Empty** — `NAME=` — read as the empty string by all four.
    /// 3. **Single-quoted** — `NAME='value'` — when the value has no `'`, no `\` and no carriage
    ///    return. All four take the bytes between the quotes literally, newlines included (a multi-line
    ///    value is several lines of the file), and Compose does not interpolate `$` inside them.
    /// 4. **Raw, ending in a backslash** — `NAME=value\` — for a value that ends in `\` and has no
    ///    newline, carriage return or `#`, no space or tab at either end, and does not start with a
    ///    quote or backtick. python-dotenv, Compose and Node take such a line as it is; systemd does not
    ///    (it reads `\` as an escape and a final `\` as a line continuation).
    ///    No quoted form can end in a backslash for python-dotenv, Compose and Node: each takes `\"` or
    ///    `\'` just before the closing quote as an escaped quote and reads on into the next lines.
    /// 5. **Double-quoted** — `NAME="value"` — for everything else, with `\` written `\\`, `"` written
    ///    `\"` and a carriage return written `\r`; every other byte as it is (newline, tab, `'`, `$`,
    ///    backtick, UTF-8). python-dotenv reads this exactly. systemd reads it exactly except that `\r`
    ///    stays two characters; Compose decodes `\\`, `\"` and `\r` the same way but interpolates
    ///    `$NAME` in double quotes; Node's dotenv keeps `\\` and `\"` as written (it only decodes `\n`
    ///    and `\r`).
    ///    A carriage return cannot go raw: python-dotenv and Node read their files with universal
    ///    newlines, which would turn it into `\n`. A value that ends in a backslash and does not fit
    ///    form 4 is written in this form, which only systemd reads exactly; it comes with an
    ///    ``EnvOutputWarning/dotenvValueMisread(name:origin:)`` warning.
    ///
    /// Known limits, from the readers, not the file:
    /// - python-dotenv expands `${NAME}` and `${NAME:-default}` in **every** value, quoted or not, and
    ///   has no escape for it: read with `dotenv_values(path, interpolate=False)` (or
    ///   `load_dotenv(..., interpolate=False)`) when a label or annotation may contain `${`.
    ///   A `$` not followed by `{` is never touched.
    /// - Bytes that are not UTF-8 are written as they are, like the shell format and unlike JSON.
    ///   python-dotenv opens the file as strict UTF-8 and fails on the whole file (open it yourself with
    ///   `errors="surrogateescape"` and pass `stream=` to get the bytes back exactly); systemd ignores
    ///   such an assignment; Node decodes them as U+FFFD.
    /// - No reader can hold a NUL in an environment variable: such a value is an error.
    ///
    /// - Throws: ``EnvOutputError/nulInValue(name:origin:)`` for a value with a NUL byte.
    public static func dotenvFile(_ variables: [EnvVariable]) throws(EnvOutputError) -> EnvFileContent {
        var output: [UInt8] = []
        var warnings: [EnvOutputWarning] = []
        for variable in variables {
            try checkNoNUL(variable)
            output.append(contentsOf: variable.name.utf8)
            output.append(UInt8(ascii: "="))
            let quoting = dotenvQuoting(for: variable.value)
            appendDotenvValue(variable.value, quoting: quoting, to: &output)
            output.append(UInt8(ascii: "\n"))
            if quoting == .doubleQuoted && variable.value.last == UInt8(ascii: "\\") {
                warnings.append(.dotenvValueMisread(name: variable.name, origin: variable.origin))
            }
        }
        return EnvFileContent(bytes: output, warnings: warnings)
    }

    /// The form of one value, as listed in ``dotenvFile(_:)``.
    enum DotenvQuoting: Equatable {
        case bare, singleQuoted, rawEndingInBackslash, doubleQuoted
    }

    static func dotenvQuoting(for value: [UInt8]) -> DotenvQuoting {
        // The empty value is bare too: `NAME=`.
        if value.allSatisfy(isBareDotenvByte) { return .bare }
        let needsEscape = value.contains { $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\\") || $0 == 0x0D }
        if !needsEscape { return .singleQuoted }
        if value.last == UInt8(ascii: "\\") && fitsRawEndingInBackslash(value) { return .rawEndingInBackslash }
        return .doubleQuoted
    }

    /// Form 4: what python-dotenv, Compose and Node all take verbatim as an unquoted value.
    private static func fitsRawEndingInBackslash(_ value: [UInt8]) -> Bool {
        let blank: Set<UInt8> = [UInt8(ascii: " "), 0x09]
        let openers: Set<UInt8> = [UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`")]
        guard let first = value.first, let last = value.last,
              !blank.contains(first), !blank.contains(last), !openers.contains(first) else { return false }
        return !value.contains { $0 == 0x0A || $0 == 0x0D || $0 == UInt8(ascii: "#") }
    }

    static func appendDotenvValue(_ value: [UInt8], quoting: DotenvQuoting, to output: inout [UInt8]) {
        switch quoting {
        case .bare, .rawEndingInBackslash:
            output.append(contentsOf: value)
        case .singleQuoted:
            output.append(UInt8(ascii: "'"))
            output.append(contentsOf: value)
            output.append(UInt8(ascii: "'"))
        case .doubleQuoted:
            output.append(UInt8(ascii: "\""))
            for byte in value {
                switch byte {
                case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
                case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
                case 0x0D: output.append(contentsOf: #"\r"#.utf8)
                default: output.append(byte)
                }
            }
            output.append(UInt8(ascii: "\""))
        }
    }

    private static func isBareDotenvByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"),
             UInt8(ascii: ","), UInt8(ascii: "@"), UInt8(ascii: "+"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }
}
