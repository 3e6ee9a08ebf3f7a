// A port of Kubernetes' resource quantities, k8s.io/apimachinery/pkg/api/resource:
// quantity.go (ParseQuantity, CanonicalizeBytes, String, Cmp, ScaledValue), suffix.go,
// amount.go and math.go. Standard library only: this file is also compiled on its own
// into the fuzz target (Fuzz/FuzzQuantity.swift).
//
// Go keeps a quantity either as an int64 mantissa with a base-10 scale (int64Amount) or,
// when that does not fit, as an inf.Dec. The value is the same either way; what differs is
// observable only in the string form, so this port keeps one exact decimal
// (`QuantityAmount`) and remembers which representation Go would have chosen
// (`Quantity.Storage`) for the places where that shows.
//
// Which Go: quantity.go and quantity_test.go at apimachinery 357557a (the newest pair found),
// plus two later upstream changes that tests pin (kubernetes#141166, the "Quantity int64
// overflow burndown"):
// - Value/MilliValue round away from zero and saturate at Int64.min/Int64.max when the
//   result does not fit (older releases wrapped, and their inf.Dec path rounded negative
//   values toward +inf);
// - a decimal exponent that truncates to Int32.min is refused with ErrSuffix (1.37 hung).
// Like every release, a decimal exponent is truncated to 32 bits (`1e4294967297` is `1e1`)
// and int32 scale arithmetic wraps. Where Go never returns (its inf.Dec path rounds to nano
// by materialising 10^shift, and hangs once the shift passes ~2^20 digits), this port
// computes the value Go's arithmetic describes, without materialising it.

/// A Kubernetes resource quantity such as `500m`, `1.5Gi` or `12e6`: an exact decimal with
/// the notation it was written in.
///
/// It mirrors Go's `resource.Quantity` exactly, including its quirks:
/// - parsing keeps the value down to nano (10^-9), rounding a finer non-zero value away
///   from zero (`0.1n` is `1n`); a binary-suffixed value is capped at 2^63-1;
/// - `description` is Go's `String()`: the canonical form (`1.5Gi` -> `1536Mi`,
///   `0.1m` -> `100u`), except that an input Go's parser already considers canonical is
///   returned as written, so `+1`, `01` and `1.` print as themselves, as in Go;
/// - `==` and `<` compare values (Go's `Equal`/`Cmp`), so `1k == 1000` although they print
///   differently.
///
/// ```swift
/// let memory = try Quantity(parsing: "1.5Gi")
/// memory.description  // "1536Mi"
/// memory.value        // 1610612736
/// try Quantity(parsing: "1500m").value  // 2 (rounded up)
/// ```
public struct Quantity: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The notation a quantity is printed in; Go's `resource.Format`.
    public enum Format: String, Sendable, Hashable {
        /// Powers of ten with an SI suffix: `n u m "" k M G T P E` (`12M` is 12*10^6).
        case decimalSI = "DecimalSI"
        /// Powers of 1024 with a binary suffix: `Ki Mi Gi Ti Pi Ei` (`12Mi` is 12*2^20).
        case binarySI = "BinarySI"
        /// Powers of ten with an exponent: `12e6`.
        case decimalExponent = "DecimalExponent"
    }

    /// Which of Go's two representations holds the value. It shows only in the string form:
    /// where Go's int32 exponent arithmetic wraps (an int64Amount adjusts the exponent in
    /// one step, an inf.Dec in a loop), and for Int64.min in BinarySI.
    enum Storage: Sendable, Hashable {
        /// Go's `int64Amount{value, scale}`: an int64 mantissa and an int32 base-10 scale.
        case int64Amount
        /// Go's `inf.Dec`, used whenever the int64 form does not fit or is not exact.
        case infDec
    }

    /// The notation this quantity was written in, and is printed in.
    public let format: Format
    /// The exact value.
    let amount: QuantityAmount
    let storage: Storage
    /// Go's `q.s`: the input text, kept when the parser judged it canonical already.
    let cachedString: String?

    init(amount: QuantityAmount, format: Format, storage: Storage, cachedString: String? = nil) {
        self.amount = amount
        self.format = format
        self.storage = storage
        self.cachedString = cachedString
    }

    /// The quantity `value` (Go's `NewQuantity(value, format)`).
    public init(_ value: Int64, format: Format = .decimalSI) {
        self.init(amount: QuantityAmount(value, exponent: 0), format: format, storage: .int64Amount)
    }

    /// The quantity `value / 1000` (Go's `NewMilliQuantity(value, format)`).
    public init(milli value: Int64, format: Format = .decimalSI) {
        self.init(amount: QuantityAmount(value, exponent: -3), format: format, storage: .int64Amount)
    }

    /// Zero, as Go's `resource.Quantity{}`; also what an unset quantity compares equal to.
    public static let zero = Quantity(0)

    // MARK: Accessors

    /// True when the value is zero, however it was written (`0`, `0Ki`, `0.0e5`).
    public var isZero: Bool { amount.isZero }

    /// -1, 0 or 1 by the sign of the value (Go's `Sign`).
    public var sign: Int { amount.sign }

    /// The value rounded to an integer away from zero (Go's `Value()`): `1500m` -> 2,
    /// `-1500m` -> -2. A value outside Int64 saturates at Int64.min or Int64.max, as
    /// upstream does since kubernetes#141166 (older releases returned a wrapped number).
    public var value: Int64 { scaledValue(0) }

    /// The value in thousandths, rounded away from zero (Go's `MilliValue()`): `1.5` ->
    /// 1500, `0.1m` -> 1. Saturates at Int64.min or Int64.max like `value`.
    public var milliValue: Int64 { scaledValue(-3) }

    /// Go's `ScaledValue(scale)`: the value in units of 10^scale, rounded away from zero and
    /// saturated at the Int64 bounds (upstream's checked `AsScaledInt64`).
    func scaledValue(_ scale: Int32) -> Int64 {
        amount.roundedInt64(unitExponent: Int64(scale))
    }

    /// Compares values (Go's `Cmp`): -1, 0 or 1.
    public func compare(_ other: Quantity) -> Int {
        QuantityAmount.compare(amount, other.amount)
    }

    /// Equal values, whatever their notation (Go's `Equal`): `1k == 1000`.
    public static func == (lhs: Quantity, rhs: Quantity) -> Bool {
        lhs.amount == rhs.amount
    }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool {
        lhs.compare(rhs) < 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(amount)
    }
}

// MARK: - Parsing (quantity.go: parseQuantityString, ParseQuantity; suffix.go: interpret)

/// Why a string is not a quantity. The three reasons are Go's three parse errors, and
/// `description` ends with Go's own message for each.
public struct QuantityError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Go's parse error variables.
    public enum Reason: Sendable, Hashable {
        /// `ErrFormatWrong`: not `<number><suffix>` at all (`1KB`, ` 1`, `1.2.3`, empty).
        case formatWrong
        /// `ErrNumeric`: the number has no digits where Go needs them (`.e-10`).
        case numeric
        /// `ErrSuffix`: the suffix is not one Kubernetes knows (`K`, `mi`, `1e`, `1ee3`).
        case suffix
    }

    /// The text that failed to parse.
    public let text: String
    public let reason: Reason

    /// Go's error text for `reason`, as the API server reports it.
    public var goMessage: String {
        switch reason {
        case .formatWrong:
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        case .numeric:
            "unable to parse numeric part of quantity"
        case .suffix:
            "unable to parse quantity's suffix"
        }
    }

    public var description: String {
        "quantity \(String(reflecting: text)) is invalid: \(goMessage)"
    }
}

extension Quantity {
    /// Parses a quantity exactly as Go's `resource.ParseQuantity` does, with no trimming:
    /// `<signedNumber><suffix>`, where the number is `1`, `1.5`, `1.` or `.5` with an
    /// optional sign and the suffix is binary (`Ki`..`Ei`), decimal SI (`n u m k M G T P E`
    /// or none) or an exponent (`e3`, `E-2`).
    ///
    /// Go is lenient in ways kept here: a number without digits is zero (`-`, `.`, `Ki`,
    /// `e5` all parse as 0).
    public init(parsing text: String) throws(QuantityError) {
        let str = Array(text.utf8)
        // 1. The empty string is ErrFormatWrong; "0" is the canonical zero.
        if str.isEmpty { throw QuantityError(text: text, reason: .formatWrong) }
        if str == [UInt8(ascii: "0")] {
            self.init(amount: .zero, format: .decimalSI, storage: .int64Amount, cachedString: text)
            return
        }

        // 2. Split into sign, numerator, denominator and suffix (parseQuantityString).
        guard let parts = ScannedQuantity(str) else {
            throw QuantityError(text: text, reason: .formatWrong)
        }

        // 3. Interpret the suffix as base^exponent and a format (quantitySuffixer.interpret).
        guard let (base, exponent, interpreted) = Self.interpret(suffix: parts.suffix),
            exponent != Int32.min  // upstream refuses it rather than hang (kubernetes#141166)
        else {
            throw QuantityError(text: text, reason: .suffix)
        }
        var format = interpreted

        // 4. The int64 fast path, taken when the digits surely fit an int64 (maxInt64Factors
        //    is 18) and the scale is at least nano. Go's scale is an int32 and wraps.
        var precision: Int64 = 0
        var scale: Int32 = 0
        var mantissa: Int64 = 1
        switch format {
        case .decimalExponent, .decimalSI:
            scale = exponent
            precision = 18 - Int64(parts.num.count + parts.denom.count)
        case .binarySI:
            scale = 0
            if exponent >= 0 && parts.denom.isEmpty {
                mantissa = Int64(1) << Int64(exponent)
                // 1Mi (2^20) has ~6 decimal digits of precision: exponent*3/10 (exact for
                // Go's float32 arithmetic at 10, 20, ..., 60).
                precision = 15 - Int64(parts.num.count) - Int64(exponent) * 3 / 10 - 1
            } else {
                precision = -1
            }
        }
        if precision >= 0 {
            // Shift the denominator into the mantissa.
            scale = scale &- Int32(truncatingIfNeeded: parts.denom.count)
            if scale >= -9 {
                let shifted = parts.num + parts.denom
                guard let value = Self.parseUnsignedInt64(shifted) else {
                    throw QuantityError(text: text, reason: .numeric)
                }
                let (product, overflow) = value.multipliedReportingOverflow(by: mantissa)
                if !overflow {
                    let result = parts.positive ? product : -product
                    // Reuse the input as the string form when Go deems it canonical already.
                    var canonical = false
                    switch format {
                    case .binarySI:
                        canonical = exponent % 10 == 0 && value & 0x07 != 0
                    case .decimalSI, .decimalExponent:
                        canonical = scale % 3 == 0 && !shifted.hasSuffixThreeZeros
                            && shifted[0] != UInt8(ascii: "0")
                    }
                    self.init(
                        amount: QuantityAmount(result, exponent: Int64(scale)), format: format,
                        storage: .int64Amount, cachedString: canonical ? text : nil)
                    return
                }
            }
        }

        // 5. The exact path (inf.Dec). SetString needs at least one digit: ErrNumeric.
        guard var amount = QuantityAmount(decimalText: parts.value) else {
            throw QuantityError(text: text, reason: .numeric)
        }
        if base == 10 {
            // amount.SetScale(amount.Scale() + Scale(exponent).infScale()), in int32.
            let infScale = Int32(truncatingIfNeeded: parts.valueFractionDigits)
                &+ (0 &- exponent)
            amount = amount.withExponent(fromInfScale: infScale)
        } else {
            let infScale = Int32(truncatingIfNeeded: parts.valueFractionDigits)
            amount = amount.withExponent(fromInfScale: infScale).multiplied(byPowerOfTwo: Int(exponent))
        }

        // 6. Round a non-zero value up (away from zero) to nano: "if you want some
        //    resources, you should get some resources".
        if !amount.isZero {
            amount = amount.roundedAwayFromZero(toExponent: -9).value
        }
        // 7. Cap a binary quantity at 2^63-1 in magnitude.
        if format == .binarySI && amount.magnitudeExceedsInt64Max {
            amount = QuantityAmount(amount.negative ? -Int64.max : Int64.max, exponent: 0)
        }
        // 8. A binary quantity strictly between 0 and 1 in magnitude becomes DecimalSI.
        if format == .binarySI && !amount.isZero && amount.leadingExponent <= 0 {
            format = .decimalSI
        }
        self.init(amount: amount, format: format, storage: .infDec)
    }

    /// suffix.go `interpret`: base, exponent and format for a suffix, or nil (ErrSuffix).
    static func interpret(suffix: ArraySlice<UInt8>) -> (base: Int, exponent: Int32, format: Format)? {
        switch String(decoding: suffix, as: UTF8.self) {
        case "": return (10, 0, .decimalSI)
        case "n": return (10, -9, .decimalSI)
        case "u": return (10, -6, .decimalSI)
        case "m": return (10, -3, .decimalSI)
        case "k": return (10, 3, .decimalSI)
        case "M": return (10, 6, .decimalSI)
        case "G": return (10, 9, .decimalSI)
        case "T": return (10, 12, .decimalSI)
        case "P": return (10, 15, .decimalSI)
        case "E": return (10, 18, .decimalSI)
        case "Ki": return (2, 10, .binarySI)
        case "Mi": return (2, 20, .binarySI)
        case "Gi": return (2, 30, .binarySI)
        case "Ti": return (2, 40, .binarySI)
        case "Pi": return (2, 50, .binarySI)
        case "Ei": return (2, 60, .binarySI)
        default: break
        }
        // "e<int>" / "E<int>": strconv.ParseInt(s, 10, 64), then int32(parsed), which
        // truncates (kubernetes#142395: `e4294967297` is `e1`).
        guard suffix.count > 1, suffix.first == UInt8(ascii: "e") || suffix.first == UInt8(ascii: "E"),
            let parsed = parseSignedInt64(suffix.dropFirst())
        else { return nil }
        return (10, Int32(truncatingIfNeeded: parsed), .decimalExponent)
    }

    /// strconv.ParseInt(s, 10, 64) for a string of ASCII digits only.
    static func parseUnsignedInt64(_ digits: [UInt8]) -> Int64? {
        parseSignedInt64(digits[...])
    }

    /// strconv.ParseInt(s, 10, 64): an optional sign, then at least one ASCII digit.
    static func parseSignedInt64(_ text: ArraySlice<UInt8>) -> Int64? {
        var rest = text
        var negative = false
        if let first = rest.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { return nil }
        var magnitude: UInt64 = 0
        for byte in rest {
            guard byte.isASCIIDigit else { return nil }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            magnitude = sum
        }
        if negative {
            return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}

/// The pieces of a quantity string, split by Go's hand-written scanner `parseQuantityString`
/// (which is more lenient than the regular expression its error message quotes).
struct ScannedQuantity {
    var positive = true
    /// The signed number as written, for inf.Dec's SetString (`-1.50`).
    var value: ArraySlice<UInt8> = []
    /// Integer digits without leading zeros; "0" when there are none.
    var num: [UInt8] = []
    /// Fraction digits as written.
    var denom: [UInt8] = []
    var suffix: ArraySlice<UInt8> = []

    /// Number of digits after the dot in `value`, which is what inf.Dec takes as its scale.
    var valueFractionDigits: Int {
        guard let dot = value.firstIndex(of: UInt8(ascii: ".")) else { return 0 }
        return value.endIndex - dot - 1
    }

    /// Returns nil for ErrFormatWrong.
    init?(_ str: [UInt8]) {
        let end = str.count
        var pos = 0
        // 1. Leading sign.
        if pos < end {
            if str[0] == UInt8(ascii: "-") {
                positive = false
                pos += 1
            } else if str[0] == UInt8(ascii: "+") {
                pos += 1
            }
        }
        // 2. Leading zeros; nothing but zeros is the number 0 with no suffix.
        while true {
            if pos >= end {
                num = [UInt8(ascii: "0")]
                value = num[...]
                return
            }
            if str[pos] != UInt8(ascii: "0") { break }
            pos += 1
        }
        // 3. The numerator.
        var i = pos
        while true {
            if i >= end {
                num = Array(str[pos..<end])
                value = str[0..<end]
                return
            }
            if !str[i].isASCIIDigit {
                num = Array(str[pos..<i])
                pos = i
                break
            }
            i += 1
        }
        if num.isEmpty { num = [UInt8(ascii: "0")] }
        // 4. The denominator ("1." is allowed, as is ".5").
        if pos < end && str[pos] == UInt8(ascii: ".") {
            pos += 1
            i = pos
            while true {
                if i >= end {
                    denom = Array(str[pos..<end])
                    value = str[0..<end]
                    return
                }
                if !str[i].isASCIIDigit {
                    denom = Array(str[pos..<i])
                    pos = i
                    break
                }
                i += 1
            }
        }
        value = str[0..<pos]
        // 5. The suffix: letters from "eEinumkKMGTP", then an optional sign and digits,
        //    which must reach the end of the string.
        let suffixStart = pos
        i = pos
        while true {
            if i >= end {
                suffix = str[suffixStart..<end]
                return
            }
            if !str[i].isQuantitySuffixLetter {
                pos = i
                break
            }
            i += 1
        }
        if pos < end && (str[pos] == UInt8(ascii: "-") || str[pos] == UInt8(ascii: "+")) {
            pos += 1
        }
        i = pos
        while true {
            if i >= end {
                suffix = str[suffixStart..<end]
                return
            }
            if !str[i].isASCIIDigit { break }
            i += 1
        }
        return nil
    }
}

extension UInt8 {
    fileprivate var isASCIIDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }

    /// strings.ContainsAny(c, "eEinumkKMGTP")
    fileprivate var isQuantitySuffixLetter: Bool {
        switch self {
        case UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "i"), UInt8(ascii: "n"),
            UInt8(ascii: "u"), UInt8(ascii: "m"), UInt8(ascii: "k"), UInt8(ascii: "K"),
            UInt8(ascii: "M"), UInt8(ascii: "G"), UInt8(ascii: "T"), UInt8(ascii: "P"):
            true
        default:
            false
        }
    }
}

extension [UInt8] {
    /// strings.HasSuffix(s, "000")
    fileprivate var hasSuffixThreeZeros: Bool {
        count >= 3 && self[count - 1] == UInt8(ascii: "0") && self[count - 2] == UInt8(ascii: "0")
            && self[count - 3] == UInt8(ascii: "0")
    }
}

// MARK: - Formatting (quantity.go: CanonicalizeBytes, String; amount.go: AsCanonical*Bytes)

extension Quantity {
    /// Go's `String()`: the text the parser kept, or else the canonical form. The canonical
    /// form has no fractional digits, the largest exponent (or suffix) that loses nothing,
    /// and a sign only when negative: `1000` -> `1k`, `1.5Gi` -> `1536Mi`, `0.1m` -> `100u`,
    /// `1.1Ki` -> `1126400m`, `12e2` -> `1200`, `1000E` -> `1e21`.
    public var description: String {
        cachedString ?? canonicalString
    }

    /// CanonicalizeBytes, ignoring the text the parser kept.
    var canonicalString: String {
        // 1. Zero is "0" in every format.
        if amount.isZero { return "0" }

        // 2. BinarySI is used only for an integer of magnitude at least 1024; anything else
        //    falls back to DecimalSI so that nothing is rounded away.
        var format = self.format
        var rounded = amount
        if format == .binarySI {
            if QuantityAmount.compare(amount, QuantityAmount(-1024, exponent: 0)) > 0
                && QuantityAmount.compare(amount, QuantityAmount(1024, exponent: 0)) < 0
            {
                format = .decimalSI
            } else {
                let (integer, exact) = amount.roundedAwayFromZero(toExponent: 0)
                if exact { rounded = integer } else { format = .decimalSI }
            }
        }

        switch format {
        case .decimalSI, .decimalExponent:
            // 3. A mantissa without trailing zeros and an exponent that is a multiple of 3,
            //    then the SI suffix for the exponent; DecimalSI has none beyond E (10^18) or
            //    below n, so those fall back to "e<exponent>".
            let (number, exponent) = canonicalDecimal()
            if format == .decimalSI, let suffix = Self.decimalSISuffix(exponent) {
                return number + suffix
            }
            return exponent == 0 ? number : number + "e" + String(exponent)
        case .binarySI:
            // 4. The largest power of 1024 that divides the integer, as Ki..Ei.
            let (number, power) = rounded.canonicalBase1024(storage: storage)
            return number + (Self.binarySISuffixes[power] ?? "")
        }
    }

    /// AsCanonicalBytes: the digits without trailing zeros, padded with up to two zeros so
    /// that the exponent is a multiple of three. Go computes that exponent in an int32 that
    /// wraps: an int64Amount steps once by `exponent % 3` (truncated remainder), an inf.Dec
    /// steps down one at a time until `exponent % 3 == 0`. The two differ only where the
    /// exponent wraps, and there this reproduces Go's wrong spellings (`1000e2147483647`
    /// prints as `1e-2147483646`).
    func canonicalDecimal() -> (number: String, exponent: Int64) {
        var exponent = Int32(truncatingIfNeeded: amount.exponent)
        var padding = 0
        switch storage {
        case .int64Amount:
            switch exponent % 3 {
            case 1, -2: padding = 1
            case 2, -1: padding = 2
            default: padding = 0
            }
            exponent = exponent &- Int32(padding)
        case .infDec:
            while exponent % 3 != 0 {
                padding += 1
                exponent = exponent &- 1
            }
        }
        var text = amount.negative ? "-" : ""
        text.unicodeScalars.append(contentsOf: amount.digits.map { Unicode.Scalar($0 + UInt8(ascii: "0")) })
        text += String(repeating: "0", count: padding)
        return (text, Int64(exponent))
    }

    static func decimalSISuffix(_ exponent: Int64) -> String? {
        switch exponent {
        case -9: "n"
        case -6: "u"
        case -3: "m"
        case 0: ""
        case 3: "k"
        case 6: "M"
        case 9: "G"
        case 12: "T"
        case 15: "P"
        case 18: "E"
        default: nil
        }
    }

    static let binarySISuffixes: [Int: String] = [1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"]
}

// MARK: - Exact decimal

/// An exact decimal `±digits × 10^exponent`, normalised so that equal values are equal
/// structs: no leading or trailing zero digits, and zero is `digits == []`, `exponent == 0`.
///
/// Decimal digits rather than binary limbs, because nearly everything a quantity does is
/// decimal: strip trailing zeros, round at a power of ten, print. The exponent is kept
/// symbolically, so `1e2000000000` costs one digit.
struct QuantityAmount: Hashable, Sendable {
    private(set) var negative: Bool
    /// Most significant first, each 0...9.
    private(set) var digits: [UInt8]
    private(set) var exponent: Int64

    static let zero = QuantityAmount(normalizing: [], negative: false, exponent: 0)

    init(normalizing raw: [UInt8], negative: Bool, exponent: Int64) {
        var start = raw.startIndex
        while start < raw.endIndex && raw[start] == 0 { start += 1 }
        var end = raw.endIndex
        var exponent = exponent
        while end > start && raw[end - 1] == 0 {
            end -= 1
            exponent += 1
        }
        if start == end {
            self.negative = false
            self.digits = []
            self.exponent = 0
        } else {
            self.negative = negative
            self.digits = Array(raw[start..<end])
            self.exponent = exponent
        }
    }

    /// `value × 10^exponent`.
    init(_ value: Int64, exponent: Int64) {
        var magnitude = value.magnitude
        var reversed: [UInt8] = []
        while magnitude > 0 {
            reversed.append(UInt8(magnitude % 10))
            magnitude /= 10
        }
        self.init(normalizing: reversed.reversed(), negative: value < 0, exponent: exponent)
    }

    /// inf.Dec's SetString for `[+-]digits[.digits]` (the scale is applied separately, by
    /// `withExponent(fromInfScale:)`); nil when there is no digit at all.
    init?(decimalText text: ArraySlice<UInt8>) {
        var negative = false
        var raw: [UInt8] = []
        raw.reserveCapacity(text.count)
        for byte in text {
            switch byte {
            case UInt8(ascii: "-"): negative = true
            case UInt8(ascii: "+"), UInt8(ascii: "."): break
            default: raw.append(byte - UInt8(ascii: "0"))
            }
        }
        if raw.isEmpty { return nil }
        self.init(normalizing: raw, negative: negative, exponent: 0)
    }

    /// The same digits read with inf.Dec scale `infScale`, i.e. times 10^-infScale. Only
    /// valid right after `init(decimalText:)`, whose exponent counts stripped zeros.
    func withExponent(fromInfScale infScale: Int32) -> QuantityAmount {
        if isZero { return self }
        var copy = self
        copy.exponent = exponent - Int64(infScale)
        return copy
    }

    var isZero: Bool { digits.isEmpty }
    var sign: Int { isZero ? 0 : (negative ? -1 : 1) }

    /// The magnitude lies in [10^(leadingExponent-1), 10^leadingExponent).
    var leadingExponent: Int64 { Int64(digits.count) + exponent }

    var magnitudeExceedsInt64Max: Bool {
        Self.compareMagnitude(self, QuantityAmount(Int64.max, exponent: 0)) > 0
    }

    static func compareMagnitude(_ a: QuantityAmount, _ b: QuantityAmount) -> Int {
        if a.isZero || b.isZero { return (a.isZero ? 0 : 1) - (b.isZero ? 0 : 1) }
        if a.leadingExponent != b.leadingExponent { return a.leadingExponent < b.leadingExponent ? -1 : 1 }
        for index in 0..<max(a.digits.count, b.digits.count) {
            let x = index < a.digits.count ? a.digits[index] : 0
            let y = index < b.digits.count ? b.digits[index] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }

    static func compare(_ a: QuantityAmount, _ b: QuantityAmount) -> Int {
        if a.sign != b.sign { return a.sign < b.sign ? -1 : 1 }
        let magnitude = compareMagnitude(a, b)
        return a.negative ? -magnitude : magnitude
    }

    /// inf.Dec's Round(x, -target, RoundUp): the nearest multiple of 10^target away from
    /// zero, and whether that was exact.
    func roundedAwayFromZero(toExponent target: Int64) -> (value: QuantityAmount, exact: Bool) {
        if isZero || exponent >= target { return (self, true) }
        // Normalised digits end in a non-zero digit, so dropping any of them is inexact.
        let drop = target - exponent
        var kept: [UInt8] = drop >= Int64(digits.count) ? [] : Array(digits.dropLast(Int(drop)))
        var index = kept.count - 1
        while index >= 0 && kept[index] == 9 {
            kept[index] = 0
            index -= 1
        }
        if index >= 0 { kept[index] += 1 } else { kept.insert(1, at: 0) }
        return (QuantityAmount(normalizing: kept, negative: negative, exponent: target), false)
    }

    /// The value in units of 10^unitExponent, rounded away from zero, saturated at the
    /// Int64 bounds (upstream ScaledValue / AsScaledInt64).
    func roundedInt64(unitExponent: Int64) -> Int64 {
        if isZero { return 0 }
        let integer = roundedAwayFromZero(toExponent: unitExponent).value
        let rail = negative ? Int64.min : Int64.max
        let zeros = integer.exponent - unitExponent
        if Int64(integer.digits.count) + zeros > 19 { return rail }
        var magnitude: UInt64 = 0
        for digit in integer.digits + [UInt8](repeating: 0, count: Int(zeros)) {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return rail }
            magnitude = sum
        }
        if negative {
            return magnitude <= Int64.min.magnitude ? Int64(truncatingIfNeeded: 0 &- magnitude) : rail
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : rail
    }

    /// `self × 2^power`, for a binary suffix (power is at most 60).
    func multiplied(byPowerOfTwo power: Int) -> QuantityAmount {
        precondition((0...60).contains(power))
        let factor = UInt64(1) << UInt64(power)
        var result: [UInt8] = []
        result.reserveCapacity(digits.count + 19)
        var carry: UInt64 = 0
        // Each step is below 10 * 2^60 < 2^64.
        for digit in digits.reversed() {
            let t = UInt64(digit) * factor + carry
            result.append(UInt8(t % 10))
            carry = t / 10
        }
        while carry > 0 {
            result.append(UInt8(carry % 10))
            carry /= 10
        }
        return QuantityAmount(normalizing: result.reversed(), negative: negative, exponent: exponent)
    }

    /// AsCanonicalBase1024Bytes of an integer: the mantissa and the power of 1024 removed.
    func canonicalBase1024(storage: Quantity.Storage) -> (number: String, power: Int) {
        let sign = negative ? "-" : ""
        // Go's removeInt64Factors negates a negative int64 to work on it, and -Int64.min
        // wraps to itself, so an int64Amount holding Int64.min keeps all its factors.
        if storage == .int64Amount && negative && Self.compareMagnitude(self, QuantityAmount(Int64.min, exponent: 0)) == 0 {
            return ("-9223372036854775808", 0)
        }
        var power = 0
        var magnitude = self
        magnitude.negative = false
        let k1024 = QuantityAmount(1024, exponent: 0)
        while Self.compareMagnitude(magnitude, k1024) >= 0, let quotient = magnitude.exactlyDivided(by: 1024) {
            magnitude = quotient
            power += 1
        }
        return (sign + magnitude.integerText, power)
    }

    /// The quotient when `self` (an integer) is a multiple of `divisor`, else nil.
    private func exactlyDivided(by divisor: UInt64) -> QuantityAmount? {
        var all = digits + [UInt8](repeating: 0, count: Int(max(0, exponent)))
        var remainder: UInt64 = 0
        for index in all.indices {
            let current = remainder * 10 + UInt64(all[index])
            all[index] = UInt8(current / divisor)
            remainder = current % divisor
        }
        return remainder == 0 ? QuantityAmount(normalizing: all, negative: negative, exponent: 0) : nil
    }

    /// Decimal text of a non-negative integer amount.
    private var integerText: String {
        if isZero { return "0" }
        var text = ""
        text.unicodeScalars.append(contentsOf: digits.map { Unicode.Scalar($0 + UInt8(ascii: "0")) })
        return text + String(repeating: "0", count: Int(max(0, exponent)))
    }
}
