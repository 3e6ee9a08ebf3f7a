// Go's strconv.Quote and strconv.Unquote, byte for byte.
//
// The kubelet writes the downwardAPI `metadata.labels` / `metadata.annotations` files with
// Go's `%q` (strconv.Quote), so reading or reproducing those files exactly means speaking
// Go's quoting rules, including its handling of invalid UTF-8 and its idea of "printable".
//
// Mirrors go/src/strconv/quote.go (Go 1.19+) and go/src/unicode/utf8/utf8.go; the numbered
// comments follow the upstream functions step by step. Standard library only (no Foundation),
// and self-contained, so the fuzz target can compile this file on its own.
//
// Pinned to a real Go toolchain by Tests/PodAgentKitTests/Vectors/goquote.tsv
// (scripts/gen-go-vectors.sh).

/// Go string quoting: `strconv.Quote` (what `%q` prints) and `strconv.Unquote`.
///
/// A Go string is a byte string that usually, but not always, holds UTF-8; both directions
/// therefore work on bytes, and `unquote(quote(b)) == b` holds for every byte array, valid
/// UTF-8 or not:
///
/// ```swift
/// GoQuote.quote("zone\u{a0}é\n")              // "\"zone\\u00a0é\\n\""
/// GoQuote.quote([0xFF, 0x41] as [UInt8])      // "\"\\xffA\""
/// try GoQuote.unquote(#""rack-\x32\062""#)    // Array("rack-22".utf8)
/// ```
///
/// "Printable" is Go's `unicode.IsPrint` (categories L, M, N, P, S plus ASCII space), taken
/// here from the Swift runtime's Unicode tables. Those are newer than the tables of the Go
/// release that built a given kubelet, so code points assigned after that Go's Unicode version
/// may be quoted differently (raw here, `\u` there); everything else is exact.
public enum GoQuote {
    /// `strconv.ErrSyntax`: the text is not a Go string, rune or raw-string literal.
    ///
    /// Go reports one bare error; this one also says where and why, for humans.
    public struct SyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
        /// Byte offset in the input where the problem was detected.
        public let offset: Int
        /// What is wrong, in words.
        public let reason: String

        public init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }

        public var description: String {
            "invalid Go quoted string: \(reason) (at byte \(offset))"
        }
    }

    // MARK: - Quote

    /// `strconv.Quote` of arbitrary bytes: the double-quoted Go literal, quotes included.
    ///
    /// Invalid UTF-8 bytes become `\xNN` (one per byte), non-printable runes `\a`…`\v`,
    /// `\xNN`, `\uXXXX` or `\UXXXXXXXX`; printable runes are copied as UTF-8.
    public static func quote(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: quotedBytes(bytes), as: UTF8.self)
    }

    /// `strconv.Quote` of a Swift string's UTF-8.
    public static func quote(_ string: String) -> String {
        quote(string.utf8)
    }

    /// `strconv.Quote` as bytes, for writers that build files byte by byte.
    static func quotedBytes(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let s = Array(bytes)
        var buf: [UInt8] = []
        buf.reserveCapacity(s.count + s.count / 2 + 2)
        // quote.go appendQuotedWith(buf, s, '"', ASCIIonly: false, graphicOnly: false):
        // 1. opening quote.
        buf.append(UInt8(ascii: "\""))
        var i = 0
        while i < s.count {
            // 2. ASCII bytes are runes of their own; anything else goes through DecodeRune.
            var r = UInt32(s[i])
            var width = 1
            if r >= runeSelf {
                (r, width) = decodeRune(s, from: i, to: s.count)
            }
            // 3. A byte DecodeRune rejected (RuneError of width 1) is written as \xNN, so
            //    the exact byte survives the round trip. A real U+FFFD has width 3.
            if width == 1 && r == runeError {
                appendHexEscape(&buf, UInt32(s[i]), prefix: UInt8(ascii: "x"), digits: 2)
                i += 1
                continue
            }
            // 4. Everything else is one rune.
            appendEscapedRune(&buf, r, quote: UInt8(ascii: "\""))
            i += width
        }
        // 5. closing quote.
        buf.append(UInt8(ascii: "\""))
        return buf
    }

    /// quote.go appendEscapedRune with ASCIIonly = false and graphicOnly = false.
    private static func appendEscapedRune(_ buf: inout [UInt8], _ rune: UInt32, quote: UInt8) {
        var r = rune
        // 1. The quote character and the backslash are always backslashed.
        if r == UInt32(quote) || r == UInt32(UInt8(ascii: "\\")) {
            buf.append(UInt8(ascii: "\\"))
            buf.append(UInt8(r))
            return
        }
        // 2. Printable runes are copied as UTF-8.
        if isPrint(r) {
            appendUTF8(&buf, r)
            return
        }
        // 3. The seven C escapes.
        switch r {
        case 0x07: buf.append(contentsOf: [0x5C, UInt8(ascii: "a")])
        case 0x08: buf.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: buf.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        case 0x0A: buf.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: buf.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: buf.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x0B: buf.append(contentsOf: [0x5C, UInt8(ascii: "v")])
        default:
            // 4. Other ASCII controls and DEL as \xNN (Go <= 1.18 wrote DEL as \u007f).
            if r < 0x20 || r == 0x7F {
                appendHexEscape(&buf, r, prefix: UInt8(ascii: "x"), digits: 2)
                return
            }
            // 5. An invalid rune is written as U+FFFD (unreachable from quote(): DecodeRune
            //    only yields valid runes, but kept to mirror upstream).
            if !isValidRune(r) {
                r = runeError
            }
            // 6. \u for the BMP, \U beyond it.
            if r < 0x10000 {
                appendHexEscape(&buf, r, prefix: UInt8(ascii: "u"), digits: 4)
            } else {
                appendHexEscape(&buf, r, prefix: UInt8(ascii: "U"), digits: 8)
            }
        }
    }

    private static func appendHexEscape(_ buf: inout [UInt8], _ value: UInt32, prefix: UInt8, digits: Int) {
        // Go writes lowercase hex (quote.go lowerhex).
        let lowerhex: [UInt8] = Array("0123456789abcdef".utf8)
        buf.append(UInt8(ascii: "\\"))
        buf.append(prefix)
        var shift = (digits - 1) * 4
        while shift >= 0 {
            buf.append(lowerhex[Int((value >> UInt32(shift)) & 0xF)])
            shift -= 4
        }
    }

    // MARK: - Unquote

    /// `strconv.Unquote`: the bytes a Go string literal denotes.
    ///
    /// Accepts exactly what Go 1.19+ accepts: `"…"` with all escapes (`\a \b \f \n \r \t \v
    /// \\ \"`, `\xNN`, `\NNN` octal ≤ 255, `\uXXXX`, `\UXXXXXXXX` for valid scalars only),
    /// `` `…` `` raw strings (carriage returns dropped, no escapes), and `'…'` holding one
    /// character (`\'` allowed there instead of `\"`). Go quirks kept on purpose: `''` is
    /// accepted as the empty string, and a raw invalid UTF-8 byte inside `"…"` or `'…'` is
    /// decoded as U+FFFD (EF BF BD), while `\xNN` yields the byte itself.
    public static func unquote(_ text: some Collection<UInt8>) throws(SyntaxError) -> [UInt8] {
        let input = Array(text)
        // quote.go Unquote: unquote(s, unescape: true), and nothing may follow the literal.
        let (out, end) = try unquotePrefix(input)
        guard end == input.count else {
            throw SyntaxError(offset: end, reason: "unexpected bytes after the closing quote")
        }
        return out
    }

    /// `strconv.Unquote` of a Swift string's UTF-8.
    public static func unquote(_ text: String) throws(SyntaxError) -> [UInt8] {
        try unquote(text.utf8)
    }

    /// quote.go unquote(in, unescape: true): the unescaped literal at the start of `input`
    /// and the index just past its closing quote.
    private static func unquotePrefix(_ input: [UInt8]) throws(SyntaxError) -> (bytes: [UInt8], end: Int) {
        // 1. Determine the quote form and optimistically find the terminating quote.
        guard input.count >= 2 else {
            throw SyntaxError(offset: 0, reason: "too short to be a quoted string")
        }
        let quote = input[0]
        guard let closing = input[1...].firstIndex(of: quote) else {
            throw SyntaxError(offset: 0, reason: "no closing quote")
        }
        // Position after the terminating quote; may be wrong if escape sequences are present.
        let end = closing + 1

        switch quote {
        case UInt8(ascii: "`"):
            // 2. Raw string: the bytes up to the next backquote, carriage returns discarded
            //    (Go spec; older Go releases kept them, golang/go#15997), UTF-8 validity not checked.
            let body = input[1..<(end - 1)]
            return (body.filter { $0 != UInt8(ascii: "\r") }, end)

        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            // 3. Fast path: no backslash and no newline before the first closing quote.
            let window = input[0..<end]
            if !window.contains(UInt8(ascii: "\\")) && !window.contains(UInt8(ascii: "\n")) {
                let valid: Bool
                if quote == UInt8(ascii: "\"") {
                    valid = isValidUTF8(input, from: 1, to: end - 1)
                } else {
                    // One rune exactly; an empty '' passes too (DecodeRune of "" is
                    // (RuneError, 0)), which Go keeps and documents (golang/go#64280).
                    let (r, n) = decodeRune(input, from: 1, to: end - 1)
                    valid = 1 + n + 1 == end && (r != runeError || n != 1)
                }
                if valid {
                    return (Array(input[1..<(end - 1)]), end)
                }
            }

            // 4. Slow path: decode character by character until the closing quote.
            var buf: [UInt8] = []
            buf.reserveCapacity(end + end / 2)
            var i = 1
            while i < input.count && input[i] != quote {
                // 4a. An unescaped newline is never allowed inside.
                if input[i] == UInt8(ascii: "\n") {
                    throw SyntaxError(offset: i, reason: "newline inside a quoted string")
                }
                let (value, multibyte, next) = try unquoteChar(input, at: i, quote: quote)
                i = next
                // 4b. Single bytes (\x, octal, ASCII) verbatim; runes as UTF-8.
                if value < runeSelf || !multibyte {
                    buf.append(UInt8(truncatingIfNeeded: value))
                } else {
                    appendUTF8(&buf, value)
                }
                // 4c. Single-quoted literals hold exactly one character.
                if quote == UInt8(ascii: "'") {
                    break
                }
            }
            // 5. The literal must end with its quote.
            guard i < input.count && input[i] == quote else {
                throw SyntaxError(offset: min(i, input.count), reason: quote == UInt8(ascii: "'")
                    ? "a single-quoted literal must hold exactly one character"
                    : "no closing quote")
            }
            return (buf, i + 1)

        default:
            throw SyntaxError(offset: 0, reason: "does not start with \", ' or `")
        }
    }

    /// quote.go UnquoteChar: decodes one character or escape at `start`.
    /// Returns the value, whether it is a rune to be UTF-8 encoded (`multibyte`) rather than
    /// a single byte, and the index after it.
    private static func unquoteChar(
        _ s: [UInt8], at start: Int, quote: UInt8
    ) throws(SyntaxError) -> (value: UInt32, multibyte: Bool, next: Int) {
        // 1. Easy cases: an unescaped quote of the literal's kind ends it (an error here),
        //    a non-ASCII byte starts a rune (RuneError for invalid UTF-8), ASCII is itself.
        let c = s[start]
        if c == quote && (quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"")) {
            throw SyntaxError(offset: start, reason: "unescaped quote")
        }
        if UInt32(c) >= runeSelf {
            let (r, size) = decodeRune(s, from: start, to: s.count)
            return (r, true, start + size)
        }
        if c != UInt8(ascii: "\\") {
            return (UInt32(c), false, start + 1)
        }

        // 2. Hard case: a backslash escape.
        guard start + 1 < s.count else {
            throw SyntaxError(offset: start, reason: "backslash at end of input")
        }
        let escape = s[start + 1]
        var i = start + 2
        switch escape {
        case UInt8(ascii: "a"): return (0x07, false, i)
        case UInt8(ascii: "b"): return (0x08, false, i)
        case UInt8(ascii: "f"): return (0x0C, false, i)
        case UInt8(ascii: "n"): return (0x0A, false, i)
        case UInt8(ascii: "r"): return (0x0D, false, i)
        case UInt8(ascii: "t"): return (0x09, false, i)
        case UInt8(ascii: "v"): return (0x0B, false, i)
        case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
            // 3. \xNN is a byte (possibly not UTF-8); \u and \U must name a valid scalar.
            let n = escape == UInt8(ascii: "x") ? 2 : escape == UInt8(ascii: "u") ? 4 : 8
            guard s.count - i >= n else {
                throw SyntaxError(offset: start, reason: "\\\(Character(Unicode.Scalar(escape))) needs \(n) hex digits")
            }
            var v: UInt32 = 0
            for j in 0..<n {
                guard let x = unhex(s[i + j]) else {
                    throw SyntaxError(offset: i + j, reason: "invalid hex digit in escape")
                }
                v = v << 4 | x
            }
            i += n
            if escape == UInt8(ascii: "x") {
                return (v, false, i)
            }
            guard isValidRune(v) else {
                throw SyntaxError(offset: start, reason: "escape names a surrogate or a value above U+10FFFF")
            }
            return (v, true, i)
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            // 4. Octal: exactly three digits, at most \377.
            var v = UInt32(escape - UInt8(ascii: "0"))
            guard s.count - i >= 2 else {
                throw SyntaxError(offset: start, reason: "octal escape needs three digits")
            }
            for j in 0..<2 {
                let d = s[i + j]
                guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "7") else {
                    throw SyntaxError(offset: i + j, reason: "invalid octal digit in escape")
                }
                v = v << 3 | UInt32(d - UInt8(ascii: "0"))
            }
            i += 2
            guard v <= 255 else {
                throw SyntaxError(offset: start, reason: "octal escape above \\377")
            }
            return (v, false, i)
        case UInt8(ascii: "\\"):
            return (UInt32(escape), false, i)
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            // 5. Only the literal's own quote may be escaped: \' is an error inside "…".
            guard escape == quote else {
                throw SyntaxError(offset: start, reason: "\\\(Character(Unicode.Scalar(escape))) is not allowed in this kind of literal")
            }
            return (UInt32(escape), false, i)
        default:
            throw SyntaxError(offset: start, reason: "unknown escape sequence")
        }
    }

    private static func unhex(_ b: UInt8) -> UInt32? {
        b.hexDigitValue.map(UInt32.init)
    }

    // MARK: - unicode/utf8 and unicode.IsPrint

    /// utf8.RuneSelf: bytes below it are runes of their own.
    static let runeSelf: UInt32 = 0x80
    /// utf8.RuneError, U+FFFD.
    static let runeError: UInt32 = 0xFFFD

    /// utf8.DecodeRune on `s[start..<end]`: the rune and its width.
    ///
    /// Invalid input yields (RuneError, 1) — one byte per error — for a bad lead byte, a bad
    /// or missing continuation byte, an overlong form, a surrogate (ED A0…ED BF) or a value
    /// above U+10FFFF (F4 90… and F5…FF); empty input yields (RuneError, 0).
    static func decodeRune(_ s: [UInt8], from start: Int, to end: Int) -> (rune: UInt32, size: Int) {
        let n = end - start
        guard n >= 1 else { return (runeError, 0) }
        let p0 = s[start]
        // 1. utf8.go `first` table: size of the sequence and the range the second byte must
        //    fall in (which is what excludes overlongs, surrogates and > U+10FFFF).
        let size: Int
        let lo: UInt8
        let hi: UInt8
        switch p0 {
        case 0x00...0x7F: return (UInt32(p0), 1)
        case 0xC2...0xDF: (size, lo, hi) = (2, 0x80, 0xBF)
        case 0xE0: (size, lo, hi) = (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (size, lo, hi) = (3, 0x80, 0xBF)
        case 0xED: (size, lo, hi) = (3, 0x80, 0x9F)
        case 0xF0: (size, lo, hi) = (4, 0x90, 0xBF)
        case 0xF1...0xF3: (size, lo, hi) = (4, 0x80, 0xBF)
        case 0xF4: (size, lo, hi) = (4, 0x80, 0x8F)
        default: return (runeError, 1) // 0x80...0xC1, 0xF5...0xFF
        }
        // 2. A truncated sequence is an error of width 1, even if the bytes present are fine.
        guard n >= size else { return (runeError, 1) }
        // 3. Second byte against the accept range, later bytes against 80...BF.
        let b1 = s[start + 1]
        guard b1 >= lo && b1 <= hi else { return (runeError, 1) }
        if size == 2 {
            return (UInt32(p0 & 0x1F) << 6 | UInt32(b1 & 0x3F), 2)
        }
        let b2 = s[start + 2]
        guard b2 >= 0x80 && b2 <= 0xBF else { return (runeError, 1) }
        if size == 3 {
            return (UInt32(p0 & 0x0F) << 12 | UInt32(b1 & 0x3F) << 6 | UInt32(b2 & 0x3F), 3)
        }
        let b3 = s[start + 3]
        guard b3 >= 0x80 && b3 <= 0xBF else { return (runeError, 1) }
        return (UInt32(p0 & 0x07) << 18 | UInt32(b1 & 0x3F) << 12 | UInt32(b2 & 0x3F) << 6 | UInt32(b3 & 0x3F), 4)
    }

    /// utf8.ValidString on `s[start..<end]`.
    static func isValidUTF8(_ s: [UInt8], from start: Int, to end: Int) -> Bool {
        var i = start
        while i < end {
            let (r, size) = decodeRune(s, from: i, to: end)
            if r == runeError && size == 1 { return false }
            i += size
        }
        return true
    }

    /// utf8.ValidRune: a Unicode scalar value (no surrogates, at most U+10FFFF).
    static func isValidRune(_ r: UInt32) -> Bool {
        r < 0xD800 || (r > 0xDFFF && r <= 0x10FFFF)
    }

    /// strconv.IsPrint (= unicode.IsPrint): letters, marks, numbers, punctuation, symbols and
    /// the ASCII space. Latin-1 uses Go's own fast path; the rest the Swift runtime's general
    /// category, which unassigned code points (Cn) and private use (Co) fail as in Go.
    static func isPrint(_ r: UInt32) -> Bool {
        // 1. Latin-1: space through '~', and '¡' through 'ÿ' except the soft hyphen.
        if r <= 0xFF {
            return (0x20...0x7E).contains(r) || ((0xA1...0xFF).contains(r) && r != 0xAD)
        }
        // 2. Everything else by general category L, M, N, P or S.
        guard let scalar = Unicode.Scalar(r) else { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    /// utf8.EncodeRune: invalid runes are written as U+FFFD, as Go does.
    private static func appendUTF8(_ buf: inout [UInt8], _ rune: UInt32) {
        let r = isValidRune(rune) ? rune : runeError
        switch r {
        case 0..<0x80:
            buf.append(UInt8(r))
        case 0x80..<0x800:
            buf.append(0xC0 | UInt8(r >> 6))
            buf.append(0x80 | UInt8(r & 0x3F))
        case 0x800..<0x10000:
            buf.append(0xE0 | UInt8(r >> 12))
            buf.append(0x80 | UInt8((r >> 6) & 0x3F))
            buf.append(0x80 | UInt8(r & 0x3F))
        default:
            buf.append(0xF0 | UInt8(r >> 18))
            buf.append(0x80 | UInt8((r >> 12) & 0x3F))
            buf.append(0x80 | UInt8((r >> 6) & 0x3F))
            buf.append(0x80 | UInt8(r & 0x3F))
        }
    }
}
