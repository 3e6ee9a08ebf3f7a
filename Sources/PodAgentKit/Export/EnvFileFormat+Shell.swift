// `podagent env --format shell`: a file to `. FILE` (or `eval "$(podagent env --format shell)"`).

extension EnvFileFormat {
    /// `export NAME='value'` lines, one per variable, each ending in a newline.
    ///
    /// Every value is single-quoted, and a `'` inside it is written `'\''` (close the quote, an escaped
    /// quote, reopen). Inside single quotes a POSIX shell gives every byte its literal meaning, so
    /// newlines, `$(…)`, backticks, `\`, `"`, `!`, trailing newlines, UTF-8 and bytes that are not
    /// UTF-8 come out of `. FILE` byte for byte, and nothing runs — in bash (also with history expansion
    /// on: it does not apply inside single quotes), dash and any POSIX `sh`. Names are always
    /// `[A-Za-z_][A-Za-z0-9_]*` (``EnvVariables`` guarantees it), so they need no quoting.
    ///
    /// - Throws: ``EnvOutputError/nulInValue(name:origin:)`` for a value with a NUL byte: a shell
    ///   variable cannot hold one, and silently cutting the value there would export a different value.
    public static func shellFile(_ variables: [EnvVariable]) throws(EnvOutputError) -> EnvFileContent {
        var output: [UInt8] = []
        for variable in variables {
            try checkNoNUL(variable)
            output.append(contentsOf: "export \(variable.name)=".utf8)
            appendSingleQuoted(variable.value, to: &output)
            output.append(UInt8(ascii: "\n"))
        }
        return EnvFileContent(bytes: output, warnings: [])
    }

    /// `'…'` with each `'` as `'\''`: the only quoting in which a POSIX shell interprets nothing.
    static func appendSingleQuoted(_ value: [UInt8], to output: inout [UInt8]) {
        output.append(UInt8(ascii: "'"))
        for byte in value {
            if byte == UInt8(ascii: "'") {
                output.append(contentsOf: #"'\''"#.utf8)
            } else {
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "'"))
    }
}
