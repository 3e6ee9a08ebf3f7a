// libFuzzer target for Quantity (Sources/PodAgentKit/Kubelet/Quantity.swift). Build and run:
//
//     swiftc -parse-as-library -sanitize=fuzzer,address \
//         Sources/PodAgentKit/Kubelet/Quantity.swift Fuzz/FuzzQuantity.swift -o fuzz-quantity
//     SWIFT_BACKTRACE=enable=no ./fuzz-quantity -max_total_time=300
//
// Both files form one module, so the target can check internal state as well as the API.

/// Parses arbitrary bytes as a quantity and checks what must hold for any input:
/// 1. parsing never traps, hangs or blows up, whatever the exponent (Go's own parser hangs
///    on some of these; this port must not);
/// 2. every accessor of a parsed quantity returns without trapping;
/// 3. its string form parses back to the same value, as does its canonical form, and the
///    canonical form settles to a fixed point after one more round. Go's int32 exponent arithmetic wraps beyond ±2^31,
///    and this port reproduces the wrong spellings that result, so (3) is checked only
///    where the exponent stays clear of that edge.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let quantity: Quantity
    do {
        quantity = try Quantity(parsing: text)
    } catch {
        precondition(!error.description.isEmpty)
        return 0
    }

    // 2. Accessors.
    let value = quantity.value
    let milli = quantity.milliValue
    precondition(quantity.sign == 0 ? value == 0 && milli == 0 : value.signum() == Int64(quantity.sign))
    precondition(quantity.isZero == (quantity.compare(.zero) == 0))
    precondition(quantity.compare(quantity) == 0 && quantity == quantity)

    // 3. Round trips, away from the int32 edge.
    let exponent = quantity.amount.exponent
    guard exponent > Int64(Int32.min) + 3 && exponent <= Int64(Int32.max) else { return 0 }
    let string = quantity.description
    guard let again = try? Quantity(parsing: string) else {
        preconditionFailure("\(String(reflecting: text)): its string \(string) does not parse")
    }
    precondition(again == quantity, "\(String(reflecting: text)): \(string) parses to another value")
    precondition(again.hashValue == quantity.hashValue)
    let canonical = quantity.canonicalString
    guard let reparsed = try? Quantity(parsing: canonical) else {
        preconditionFailure("\(String(reflecting: text)): canonical \(canonical) does not parse")
    }
    precondition(reparsed == quantity, "\(String(reflecting: text)): canonical \(canonical) changes the value")
    // Not a fixed point in one step: a BinarySI value that is not a whole number of Ki prints as a plain
    // integer, which then parses as DecimalSI ("115312.5Ki" → "118080000" → "118080k", as in Go).
    // One more round must settle.
    let settled = reparsed.canonicalString
    precondition((try? Quantity(parsing: settled))?.canonicalString == settled, "\(String(reflecting: text)): \(settled) is not a fixed point")
    precondition(reparsed.value == value && reparsed.milliValue == milli)
    return 0
}
