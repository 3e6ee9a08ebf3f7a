import Testing

@testable import PodAgentKit

@Suite struct SHA256Tests {
    static func hex(_ bytes: [UInt8]) -> String { VolumeContent.hex(bytes) }

    /// FIPS 180-4's examples (NIST CSRC "SHA256.pdf", "SHA256_2.pdf") and the million-`a` message.
    @Test func fipsExamples() {
        #expect(Self.hex(SHA256.hash(data: Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(SHA256.hash(data: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.hex(SHA256.hash(data: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    static func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    /// Every length around the padding's edges (55/56 bytes: the length no longer fits the last block),
    /// against Python's hashlib (`hashlib.sha256(bytes((i*31+7)%256 for i in range(n)))`).
    static let fromHashlib: [(Int, String)] = [
        (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (1, "ca358758f6d27e6cf45272937977a748fd88391db679ceda7dc7bf1f005ee879"),
        (55, "8aa994584139d128848eeebc4e815639ba5ab6e6e39574195a63ac4f14f7c43b"),
        (56, "ad574708f75c044c9b85de64cb568ee7711ff4f36448c6242f053ba8f6cc2b63"),
        (63, "280ed3e8ff1df845b2e7dfe6ac6cee817bef20e783cc65abc41b818b4d2fe076"),
        (64, "c6ab9724ade5b6a7a1edfffb12f3aa9181351355af8fd08c919952ad211339dd"),
        (65, "788367c73c7ddf4c53f65e68cc0d943e6227ab55b0e78ba63ace822b1c6301c0"),
        (119, "3d610547d68216dedf7435a4fb6260353911f6b3fd3f18805ddb8be285d726fe"),
        (120, "1f80156a804cb7862ad113e8200e9d74499723e7c7854d5f48776d3148e09656"),
        (127, "192409cd280e14b743642ad1343fbd3e82d9305de72c078117745a679210cc3d"),
        (128, "cc548ca2dec1f6fe4f58b2e27aa9c7521607df1130d140b55a4dad0665302356"),
        (1000, "5097e7d587352f5097062ae679f37bda5802d9f875aba14c8cb4d1a188ada179"),
        (4099, "c8f9533a174e0066d1c828b946fd122d0e3b13d61b011dcf3a29964e3162acc6"),
        (65553, "a37ef69ffcedc2c6dc34df72ebb10231cc1d2137b1cb1d826739d764877f8a4a"),
    ]

    @Test func lengthsAroundBlockEdges() {
        for (count, expected) in Self.fromHashlib {
            #expect(Self.hex(SHA256.hash(data: Self.pattern(count))) == expected, "\(count) bytes")
        }
    }

    /// Streamed in pieces of every size from 1 to 130 bytes (as `VolumeContent` streams a large file), and
    /// from a collection without contiguous storage: the same digest.
    @Test func piecesAndCollectionsGiveTheSameDigest() {
        let data = Self.pattern(4099)
        let expected = Self.hex(SHA256.hash(data: data))
        for piece in 1...130 {
            var hasher = SHA256()
            for start in stride(from: 0, to: data.count, by: piece) {
                data[start..<min(start + piece, data.count)].withUnsafeBytes { hasher.update(bufferPointer: $0) }
            }
            #expect(Self.hex(hasher.finalize()) == expected, "pieces of \(piece)")
        }
        #expect(Self.hex(SHA256.hash(data: data.lazy.map { $0 })) == expected)
    }
}
