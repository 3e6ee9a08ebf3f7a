/// The bridge between podagent's bytes and the Mustache library's `String`s, lossless in both directions.
///
/// Label and annotation values (and template files) can hold bytes that are not valid UTF-8, while
/// the library renders `String`s. Decoding with U+FFFD would silently change a config file, so each
/// byte that is not part of valid UTF-8 travels through the library as the private-use code point
/// U+10FF00 + byte, and `encode` turns it back into that same byte. A real U+10FF00…U+10FFFF in the
/// input travels as its four raw bytes the same way, so no input can be confused with an escaped byte.
/// Neither kind of code point can ever be a Mustache delimiter, so parsing is unaffected.
enum TemplateText {
    static let rawByteBase: UInt32 = 0x10FF00

    static func decode(_ bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        func appendRaw(_ byte: UInt8) {
            scalars.append(Unicode.Scalar(rawByteBase + UInt32(byte))!)
        }
        decoding: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if scalar.value >= rawByteBase {
                    encoded.forEach(appendRaw)
                } else {
                    scalars.append(scalar)
                }
                offset += encoded.count
            case .error(let length):
                bytes[offset..<offset + length].forEach(appendRaw)
                offset += length
            case .emptyInput:
                break decoding
            }
        }
        return String(scalars)
    }

    static func encode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.value >= rawByteBase {
                bytes.append(UInt8(truncatingIfNeeded: scalar.value - rawByteBase))
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }

    /// Text for a message: bytes that are not UTF-8 shown as U+FFFD.
    static func readable(_ text: String) -> String {
        String(decoding: encode(text), as: UTF8.self)
    }
}
