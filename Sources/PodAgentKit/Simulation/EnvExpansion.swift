/// `$(VAR)` expansion exactly as kubernetes `third_party/forked/golang/expansion/expand.go` does it:
/// `$(NAME)` is replaced when `mapping` knows NAME and kept verbatim otherwise, `$$` is an escaped `$`,
/// and a `$` that starts no reference is kept. Works on bytes, like the Go original.
public enum EnvExpansion {
    /// MappingFuncFor: the first context that has the name wins; unknown names stay as `$(NAME)`.
    public static func mapping(_ contexts: [[String: String]]) -> (String) -> String {
        return { name in
            for context in contexts {
                if let value = context[name] { return value }
            }
            return "$(" + name + ")"
        }
    }

    public static func expand(_ input: String, _ mapping: (String) -> String) -> String {
        let bytes = Array(input.utf8)
        var out: [UInt8] = []
        var checkpoint = 0
        var cursor = 0
        while cursor < bytes.count {
            if bytes[cursor] == UInt8(ascii: "$") && cursor + 1 < bytes.count {
                out += bytes[checkpoint..<cursor]
                // tryReadVariableName on input[cursor+1:]
                let rest = bytes[(cursor + 1)...]
                var advance = 1
                switch rest.first! {
                case UInt8(ascii: "$"):
                    // Escaped operator.
                    out.append(UInt8(ascii: "$"))
                case UInt8(ascii: "("):
                    if let close = rest.dropFirst().firstIndex(of: UInt8(ascii: ")")) {
                        let name = String(decoding: bytes[(cursor + 2)..<close], as: UTF8.self)
                        out += Array(mapping(name).utf8)
                        advance = close - cursor
                    } else {
                        // Incomplete reference: emit "$(" and move past the "(".
                        out += Array("$(".utf8)
                    }
                default:
                    // An operator that starts no expression: emit it and the next byte. Upstream writes
                    // `string(input[0])`, a byte-to-rune conversion, so a non-ASCII byte comes out as the
                    // UTF-8 of U+0080…U+00FF (`$é` → `$Ã` + 0xA9): reproduced on purpose.
                    out.append(UInt8(ascii: "$"))
                    out += Array(String(Character(Unicode.Scalar(rest.first!))).utf8)
                }
                cursor += advance
                checkpoint = cursor + 1
            }
            cursor += 1
        }
        out += bytes[min(checkpoint, bytes.count)...]
        return String(decoding: out, as: UTF8.self)
    }
}
