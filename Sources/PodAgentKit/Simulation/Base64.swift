/// Standard base64 (RFC 4648 §4, padded) as Go's `encoding/json` decodes `[]byte` fields: `\r` and `\n`
/// are ignored, anything else outside the alphabet or bad padding is an error. Also the URL-safe unpadded
/// encoding JWTs use.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func decode(_ text: String) -> [UInt8]? {
        let chars = text.utf8.filter { $0 != 0x0A && $0 != 0x0D }
        guard chars.count % 4 == 0 else { return nil }
        return decode(chars, alphabet: alphabet, padded: true)
    }

    static func decodeURL(_ text: some Collection<UInt8>) -> [UInt8]? {
        decode(Array(text), alphabet: urlAlphabet, padded: false)
    }

    private static func decode(_ chars: [UInt8], alphabet: [UInt8], padded: Bool) -> [UInt8]? {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        var body = chars[...]
        var padding = 0
        if padded {
            while body.last == UInt8(ascii: "=") && padding < 2 { body.removeLast(); padding += 1 }
            if body.last == UInt8(ascii: "=") { return nil }
        }
        var out: [UInt8] = []
        out.reserveCapacity(body.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in body {
            let v = table[Int(c)]
            guard v >= 0 else { return nil }
            buffer = (buffer << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        // Leftover bits must be zero (Go's strict decoding) and form a valid tail length.
        if bits >= 6 { return nil }
        if bits > 0 && buffer & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        if padded && (body.count + padding) % 4 != 0 { return nil }
        return out
    }

    static func encode(_ bytes: some Collection<UInt8>, url: Bool = false) -> String {
        let table = url ? urlAlphabet : alphabet
        var out: [UInt8] = []
        let data = Array(bytes)
        var i = 0
        while i + 2 < data.count {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            i += 3
        }
        let rest = data.count - i
        if rest == 1 {
            let n = UInt32(data[i]) << 16
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)]]
            if !url { out += Array("==".utf8) }
        } else if rest == 2 {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)]]
            if !url { out += Array("=".utf8) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
