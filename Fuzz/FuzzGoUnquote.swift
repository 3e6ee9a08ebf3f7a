// libFuzzer target for GoQuote (Sources/PodAgentKit/Kubelet/GoQuote.swift).
//
// Build and run (GoQuote.swift compiles on its own, no package needed):
//
//     swiftc -parse-as-library -sanitize=fuzzer,address \
//         Sources/PodAgentKit/Kubelet/GoQuote.swift Fuzz/FuzzGoUnquote.swift -o fuzz-go-unquote
//     SWIFT_BACKTRACE=enable=no ./fuzz-go-unquote -max_total_time=60
//
// Properties checked on every input:
// 1. unquote never crashes, whatever the bytes (also with each kind of quote around them,
//    so the fuzzer reaches the escape decoder without having to discover the quotes first);
// 2. quote is lossless: unquote(quote(bytes)) == bytes, valid UTF-8 or not;
// 3. whatever unquote accepts, quote(result) unquotes back to the same result.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    // 2. quote is lossless.
    let quoted = GoQuote.quote(bytes)
    guard let back = try? GoQuote.unquote(quoted) else {
        fatalError("unquote rejected quote output \(quoted) of \(bytes)")
    }
    guard back == bytes else {
        fatalError("quote/unquote changed \(bytes) into \(back) via \(quoted)")
    }

    // 1 and 3. The raw input, and the raw input inside each kind of quote.
    for candidate in [bytes, [0x22] + bytes + [0x22], [0x27] + bytes + [0x27], [0x60] + bytes + [0x60]] {
        guard let result = try? GoQuote.unquote(candidate) else { continue }
        let requoted = GoQuote.quote(result)
        guard let again = try? GoQuote.unquote(requoted), again == result else {
            fatalError("unquote(\(candidate)) = \(result), but \(requoted) does not unquote back to it")
        }
    }
    return 0
}
