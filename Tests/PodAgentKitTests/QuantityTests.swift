// Specification of Quantity, mostly as Go's own tests state it:
// k8s.io/apimachinery/pkg/api/resource/quantity_test.go (TestQuantityParse, TestQuantityString,
// TestQuantityParseEmit, TestParseQuantity, TestScaledValue, TestNewSet, TestMilliNewSet,
// TestQuantityCmp) and the overflow baselines of quantity_overflow_test.go and
// checked_accessors_test.go, plus the examples of KUBELET.md §4.
import Testing

@testable import PodAgentKit

/// Go's `decQuantity(mantissa, exponent, format)`: an inf.Dec-backed quantity.
private func decQuantity(_ mantissa: Int64, _ exponent: Int64, _ format: Quantity.Format) -> Quantity {
    Quantity(amount: QuantityAmount(mantissa, exponent: exponent), format: format, storage: .infDec)
}

private func parse(_ text: String) throws -> Quantity {
    try Quantity(parsing: text)
}

private func parseError(_ text: String) -> QuantityError.Reason? {
    do {
        _ = try Quantity(parsing: text)
        return nil
    } catch {
        return error.reason
    }
}

@Suite("Quantity parsing")
struct QuantityParsingTests {
    // TestQuantityParse: input, expected value (mantissa × 10^exponent), expected format.
    static let goParseTable: [(String, Int64, Int64, Quantity.Format)] = [
        ("0", 0, 0, .decimalSI), ("0n", 0, 0, .decimalSI), ("0u", 0, 0, .decimalSI),
        ("0m", 0, 0, .decimalSI), ("0Ki", 0, 0, .binarySI), ("0k", 0, 0, .decimalSI),
        ("0Mi", 0, 0, .binarySI), ("0M", 0, 0, .decimalSI), ("0Gi", 0, 0, .binarySI),
        ("0G", 0, 0, .decimalSI), ("0Ti", 0, 0, .binarySI), ("0T", 0, 0, .decimalSI),
        // Quantity less numbers are allowed
        ("1", 1, 0, .decimalSI),
        // Binary suffixes
        ("1Ki", 1024, 0, .binarySI), ("8Ki", 8 * 1024, 0, .binarySI),
        ("7Mi", 7 * 1024 * 1024, 0, .binarySI), ("6Gi", 6 << 30, 0, .binarySI),
        ("5Ti", 5 << 40, 0, .binarySI), ("4Pi", 4 << 50, 0, .binarySI), ("3Ei", 3 << 60, 0, .binarySI),
        ("10Ti", 10 << 40, 0, .binarySI), ("100Ti", 100 << 40, 0, .binarySI),
        // Decimal suffixes
        ("5n", 5, -9, .decimalSI), ("4u", 4, -6, .decimalSI), ("3m", 3, -3, .decimalSI),
        ("9", 9, 0, .decimalSI), ("8k", 8, 3, .decimalSI), ("50k", 5, 4, .decimalSI),
        ("7M", 7, 6, .decimalSI), ("6G", 6, 9, .decimalSI), ("5T", 5, 12, .decimalSI),
        ("40T", 4, 13, .decimalSI), ("300T", 3, 14, .decimalSI), ("2P", 2, 15, .decimalSI),
        ("1E", 1, 18, .decimalSI),
        // Decimal exponents
        ("1E-3", 1, -3, .decimalExponent), ("1e3", 1, 3, .decimalExponent),
        ("1E6", 1, 6, .decimalExponent), ("1e9", 1, 9, .decimalExponent),
        ("1E12", 1, 12, .decimalExponent), ("1e15", 1, 15, .decimalExponent),
        ("1E18", 1, 18, .decimalExponent),
        // Nonstandard but still parsable
        ("1e14", 1, 14, .decimalExponent), ("1e13", 1, 13, .decimalExponent),
        ("1e3", 1, 3, .decimalExponent), ("100.035k", 100035, 0, .decimalSI),
        // Things that look like floating point
        ("0.001", 1, -3, .decimalSI), ("0.0005k", 5, -1, .decimalSI), ("0.005", 5, -3, .decimalSI),
        ("0.05", 5, -2, .decimalSI), ("0.5", 5, -1, .decimalSI), ("0.00050k", 5, -1, .decimalSI),
        ("0.00500", 5, -3, .decimalSI), ("0.05000", 5, -2, .decimalSI), ("0.50000", 5, -1, .decimalSI),
        ("0.5e0", 5, -1, .decimalExponent), ("0.5e-1", 5, -2, .decimalExponent),
        ("0.5e-2", 5, -3, .decimalExponent), ("10.035M", 10035, 3, .decimalSI),
        ("1.2e3", 12, 2, .decimalExponent), ("1.3E+6", 13, 5, .decimalExponent),
        ("1.40e9", 14, 8, .decimalExponent), ("1.53E12", 153, 10, .decimalExponent),
        ("1.6e15", 16, 14, .decimalExponent), ("1.7E18", 17, 17, .decimalExponent),
        ("9.01", 901, -2, .decimalSI), ("8.1k", 81, 2, .decimalSI), ("7.123456M", 7_123_456, 0, .decimalSI),
        ("6.987654321G", 6_987_654_321, 0, .decimalSI), ("5.444T", 5444, 9, .decimalSI),
        ("40.1T", 401, 11, .decimalSI), ("300.2T", 3002, 11, .decimalSI), ("2.5P", 25, 14, .decimalSI),
        ("1.01E", 101, 16, .decimalSI),
        // Things that saturate/round
        ("3.001n", 4, -9, .decimalSI), ("1.1E-9", 2, -9, .decimalExponent),
        ("0.0000000001", 1, -9, .decimalSI), ("0.0000000005", 1, -9, .decimalSI),
        ("0.00000000050", 1, -9, .decimalSI), ("0.5e-9", 1, -9, .decimalExponent),
        ("0.9n", 1, -9, .decimalSI), ("0.00000012345", 124, -9, .decimalSI),
        ("0.00000012354", 124, -9, .decimalSI), ("9Ei", Int64.max, 0, .binarySI),
        ("9223372036854775807Ki", Int64.max, 0, .binarySI), ("12E", 12, 18, .decimalSI),
        // We'll accept fractional binary stuff, too.
        ("100.035Ki", 10_243_584, -2, .binarySI), ("0.5Mi", 512 * 1024, 0, .binarySI),
        ("0.05Gi", 536_870_912, -1, .binarySI), ("0.025Ti", 274_877_906_944, -1, .binarySI),
        // Things written by trolls
        ("0.000000000001Ki", 2, -9, .decimalSI),  // rounds up, changes format
        (".001", 1, -3, .decimalSI), (".0001k", 100, -3, .decimalSI), ("1.", 1, 0, .decimalSI),
        ("1.G", 1, 9, .decimalSI),
    ]

    @Test("Go's TestQuantityParse table parses to the same value and format")
    func goParseTableValues() throws {
        for (input, mantissa, exponent, format) in Self.goParseTable {
            let expected = QuantityAmount(mantissa, exponent: exponent)
            let got = try parse(input)
            #expect(got.amount == expected, "\(input)")
            #expect(got.format == format, "\(input)")
        }
    }

    @Test("a leading minus negates every TestQuantityParse value and keeps the format")
    func goParseTableNegated() throws {
        for (input, mantissa, exponent, format) in Self.goParseTable {
            let got = try parse("-" + input)
            #expect(got.amount == QuantityAmount(-mantissa, exponent: exponent), "-\(input)")
            #expect(got.format == format, "-\(input)")
        }
    }

    @Test("a leading plus changes nothing in TestQuantityParse")
    func goParseTableExplicitPlus() throws {
        for (input, mantissa, exponent, format) in Self.goParseTable {
            let got = try parse("+" + input)
            #expect(got.amount == QuantityAmount(mantissa, exponent: exponent), "+\(input)")
            #expect(got.format == format, "+\(input)")
        }
    }

    @Test("Go's invalid list is rejected, with Go's error for each")
    func goInvalidList() {
        let invalid: [(String, QuantityError.Reason)] = [
            ("1.1.M", .formatWrong), ("1+1.0M", .formatWrong), ("0.1mi", .suffix), ("0.1am", .formatWrong),
            ("aoeu", .formatWrong), (".5i", .suffix), ("1i", .suffix), ("-3.01i", .suffix),
            ("-3.01e-", .suffix),
            // trailing whitespace is forbidden
            (" 1", .formatWrong), ("1 ", .formatWrong), ("", .formatWrong),
        ]
        for (input, reason) in invalid {
            #expect(parseError(input) == reason, "\(String(reflecting: input))")
        }
    }

    @Test("KUBELET.md §4 rejections, with the error Go gives")
    func kubeletDocRejections() {
        // `1KB` fails in Go's scanner (ErrFormatWrong), not in suffix lookup.
        let rejected: [(String, QuantityError.Reason)] = [
            ("K", .suffix), ("mi", .suffix), ("1KB", .formatWrong), ("1.2.3", .formatWrong),
            ("1e1.5", .formatWrong), ("", .formatWrong), (" 1", .formatWrong), ("1 ", .formatWrong),
            (" 1Ki ", .formatWrong), ("1Ki1", .suffix), ("1ee3", .suffix), ("1e", .suffix), ("1E+", .suffix),
            ("1ki", .suffix), ("1k1", .suffix), ("1KiB", .formatWrong), ("1.5.", .formatWrong),
        ]
        for (input, reason) in rejected {
            #expect(parseError(input) == reason, "\(String(reflecting: input))")
        }
    }

    @Test("the error names the text and ends with Go's message")
    func errorMessages() {
        #expect(throws: QuantityError.self) { try parse("1KB") }
        let suffix = QuantityError(text: "1ee3", reason: .suffix)
        #expect(suffix.description == #"quantity "1ee3" is invalid: unable to parse quantity's suffix"#)
        let format = QuantityError(text: "1KB", reason: .formatWrong)
        #expect(
            format.description
                == #"quantity "1KB" is invalid: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"#
        )
        #expect(
            QuantityError(text: ".e-10", reason: .numeric).description
                == #"quantity ".e-10" is invalid: unable to parse numeric part of quantity"#)
    }

    @Test("Go's scanner takes a number without digits as zero, except on the inf.Dec path")
    func digitlessNumbers() throws {
        for input in ["-", "+", ".", "-.", "Ki", "e5", "m", "00", "-0", "+.e3"] {
            #expect(try parse(input).isZero, "\(input)")
        }
        #expect(try parse("Ki").format == .binarySI)
        // Below nano (scale < -9) Go switches to inf.Dec, whose SetString needs a digit.
        #expect(parseError(".e-10") == .numeric)
        #expect(parseError("-e-10") == .numeric)
        #expect(try parse("0e-10").isZero)
    }

    @Test("a decimal exponent is truncated to 32 bits, and one truncating to Int32.min is refused")
    func exponentTruncation() throws {
        // v1.37.0's decode corpus (testdata/quantity_decode_corpus.json): e4294967297 is e1,
        // e-4294967297 is e-1, e-2147483649 wraps to e2147483647.
        #expect(try parse("1e4294967297") == parse("1e1"))
        #expect(try parse("01e-4294967297") == parse("0.1"))
        #expect(try parse("01e-2147483649") == parse("1e2147483647"))
        #expect(try parse("e4294967295").isZero)
        // Go 1.37 hung on these; upstream now answers ErrSuffix (kubernetes#141166).
        #expect(parseError("1e-2147483648") == .suffix)
        #expect(parseError("1e2147483648") == .suffix)
        #expect(parseError("0e-2147483648") == .suffix)
        // Beyond int64 strconv.ParseInt fails: ErrSuffix.
        #expect(parseError("1e9223372036854775808") == .suffix)
        #expect(try parse("1e2147483647").description == "10e2147483646")
        #expect(try parse("1e2147483647").value == Int64.max)
    }

    @Test("Go's int32 exponent arithmetic wraps, and so does the string form")
    func int32Wrapping() throws {
        // quantity_exact_policy_test.go parseRegressions: Go's observed decode and spelling.
        let thousand = try parse("1000e2147483647")
        #expect(thousand.amount == QuantityAmount(1, exponent: 2_147_483_650))
        #expect(thousand.description == "1e-2147483646")
        #expect(try parse("999999999999999999e2147483647").description == "9999999999999999990e2147483646")
        #expect(try parse("999999999999999999e2147483000").description == "99999999999999999900e2147482998")
        // The scale loses the fraction digits in int32 and flips sign: 1.5e-2147483647 is
        // read as 15e2147483647.
        #expect(try parse("1.5e-2147483647").amount == QuantityAmount(15, exponent: 2_147_483_648))
        #expect(try parse("1000000000000000000e2147483647").description == "1e-2147483631")
        #expect(try parse("1000000000000000000e2147483646").description == "100e-2147483634")
        // quantity_exact_policy_test.go knownDeviations, canonical/ctor/NewScaledQuantity/100/2147483646:
        // an int64Amount steps its wrapped exponent once (an inf.Dec would loop to 100e2147483646).
        // (The parser keeps "100e2147483646" as written, so ask for the computed form.)
        #expect(try parse("100e2147483646").canonicalString == "10e2147483647")
    }

    @Test("Pi and Ei without digits take the inf.Dec path and fail, Ki does not")
    func digitlessBinary() throws {
        #expect(try parse("Ti").isZero)
        #expect(parseError("Pi") == .numeric)
        #expect(parseError(".Ei") == .numeric)
    }

    @Test("TestParseQuantity: 18/19/20-digit boundaries, backing store and canonical form")
    func goParseQuantityBoundaries() throws {
        // input, canonical form (nil: the input itself), and whether Go's parser keeps an
        // int64Amount. Go's table states the latter as wantAsInt64, which is also unset
        // for the int64Amounts 10E and 10.0E because 10^19 overflows AsInt64.
        let table: [(String, String?, Bool)] = [
            ("-999999999999999999", nil, true), ("999999999999999999", nil, true),
            ("-999999999999999999.0", "-999999999999999999", false),
            ("999999999999999999.0", "999999999999999999", false),
            ("-999999999999999999.1", "-999999999999999999100m", false),
            ("999999999999999999.1", "999999999999999999100m", false),
            ("-9999999999999999999", nil, false), ("9999999999999999999", nil, false),
            ("-1E", nil, true), ("1E", nil, true),
            ("-1000000000000000000", "-1E", false), ("1000000000000000000", "1E", false),
            ("-9999999999999999999.0", "-9999999999999999999", false),
            ("9999999999999999999.0", "9999999999999999999", false),
            ("-1.0E", "-1E", true), ("1.0E", "1E", true),
            ("-1000000000000000000.0", "-1E", false), ("1000000000000000000.0", "1E", false),
            ("-9999999999999999999000m", "-9999999999999999999", false),
            ("9999999999999999999000m", "9999999999999999999", false),
            ("-9999999999999999999.1", "-9999999999999999999100m", false),
            ("9999999999999999999.1", "9999999999999999999100m", false),
            ("-1.0000000000000000001E", "-1000000000000000000100m", false),
            ("1.0000000000000000001E", "1000000000000000000100m", false),
            ("-1000000000000000000.1", "-1000000000000000000100m", false),
            ("1000000000000000000.1", "1000000000000000000100m", false),
            ("-1.000000000000000001E", "-1000000000000000001", false),
            ("1.000000000000000001E", "1000000000000000001", false),
            ("-1000000000000000001", nil, false), ("1000000000000000001", nil, false),
            ("-10E", nil, true), ("10E", nil, true),
            ("-10000000000000000000", "-10E", false), ("10000000000000000000", "10E", false),
            ("-10.0E", "-10E", true), ("10.0E", "10E", true),
            ("-10000000000000000000.0", "-10E", false), ("10000000000000000000.0", "10E", false),
            ("-10000000000000000000000m", "-10E", false), ("10000000000000000000000m", "10E", false),
            ("-10.0000000000000000001E", "-10000000000000000000100m", false),
            ("10.0000000000000000001E", "10000000000000000000100m", false),
            ("-10000000000000000000.1", "-10000000000000000000100m", false),
            ("10000000000000000000.1", "10000000000000000000100m", false),
            ("-10.000000000000000001E", "-10000000000000000001", false),
            ("10.000000000000000001E", "10000000000000000001", false),
            ("-10000000000000000001", nil, false), ("10000000000000000001", nil, false),
            ("-9223372036854775809", nil, false), ("9223372036854775806", nil, false),
            ("-9223372036854775809.0", "-9223372036854775809", false),
            ("9223372036854775806.0", "9223372036854775806", false),
            ("-9223372036854775809000m", "-9223372036854775809", false),
            ("9223372036854775806000m", "9223372036854775806", false),
            ("-9223372036854775809.1", "-9223372036854775809100m", false),
            ("9223372036854775806.1", "9223372036854775806100m", false),
            ("-9223372036854775808", nil, false), ("9223372036854775807", nil, false),
            ("-9223372036854775808.0", "-9223372036854775808", false),
            ("9223372036854775807.0", "9223372036854775807", false),
            ("-9223372036854775808000m", "-9223372036854775808", false),
            ("9223372036854775807000m", "9223372036854775807", false),
            ("-9223372036854775808.1", "-9223372036854775808100m", false),
            ("9223372036854775807.1", "9223372036854775807100m", false),
            ("-9223372036854775807", nil, false), ("9223372036854775808", nil, false),
            ("-9223372036854775807.0", "-9223372036854775807", false),
            ("9223372036854775808.0", "9223372036854775808", false),
            ("-9223372036854775807000m", "-9223372036854775807", false),
            ("9223372036854775808000m", "9223372036854775808", false),
            ("-9223372036854775807.1", "-9223372036854775807100m", false),
            ("9223372036854775808.1", "9223372036854775808100m", false),
        ]
        for (input, canonical, asInt64) in table {
            let got = try parse(input)
            #expect(got.description == (canonical ?? input), "\(input)")
            #expect((got.storage == .int64Amount) == asInt64, "\(input)")
        }
    }

    @Test("non-zero values finer than nano round away from zero")
    func nanoRounding() throws {
        #expect(try parse("0.1n").description == "1n")
        #expect(try parse("-0.1n").description == "-1n")
        #expect(try parse("1.0000000001").description == "1000000001n")
        #expect(try parse("1e-100").description == "1e-9")
    }
}

@Suite("Quantity string form")
struct QuantityStringTests {
    @Test("Go's TestQuantityString: canonical form, cached on parse, and the alternates")
    func goStringTable() throws {
        // (mantissa, exponent, format) -> expected String(), and an alternate spelling.
        let table: [(Int64, Int64, Quantity.Format, String, String?)] = [
            (1 << 30, 0, .binarySI, "1Gi", "1024Mi"), (300 << 20, 0, .binarySI, "300Mi", "307200Ki"),
            (6 * 1024, 0, .binarySI, "6Ki", nil), (1001 << 30, 0, .binarySI, "1001Gi", "1025024Mi"),
            (1 << 40, 0, .binarySI, "1Ti", "1024Gi"), (5, 0, .binarySI, "5", "5000m"),
            (500, -3, .binarySI, "500m", "0.5"), (1, 9, .decimalSI, "1G", "1000M"),
            (1000, 6, .decimalSI, "1G", "0.001T"), (1_000_000, 3, .decimalSI, "1G", nil),
            (1_000_000_000, 0, .decimalSI, "1G", nil), (1, -3, .decimalSI, "1m", "1000u"),
            (80, -3, .decimalSI, "80m", nil), (1080, -3, .decimalSI, "1080m", "1.08"),
            (108, -2, .decimalSI, "1080m", "1080000000n"), (10800, -4, .decimalSI, "1080m", nil),
            (300, 6, .decimalSI, "300M", nil), (1, 12, .decimalSI, "1T", nil),
            // DecimalSI has no suffix beyond "E": fall back to an exponent.
            (1, 18, .decimalSI, "1E", nil), (1, 21, .decimalSI, "1e21", "1000E"),
            (5, 21, .decimalSI, "5e21", "5000E"), (1, 24, .decimalSI, "1e24", "1000000E"),
            (1_234_567, 6, .decimalSI, "1234567M", nil), (1_234_567, -3, .binarySI, "1234567m", nil),
            (3, 3, .decimalSI, "3k", nil), (1025, 0, .binarySI, "1025", nil),
            (0, 0, .decimalSI, "0", nil), (0, 0, .binarySI, "0", nil),
            (1, 9, .decimalExponent, "1e9", ".001e12"), (1, -3, .decimalExponent, "1e-3", "0.001e0"),
            (1, -9, .decimalExponent, "1e-9", "1000e-12"), (80, -3, .decimalExponent, "80e-3", nil),
            (300, 6, .decimalExponent, "300e6", nil), (1, 12, .decimalExponent, "1e12", nil),
            (1, 3, .decimalExponent, "1e3", nil), (3, 3, .decimalExponent, "3e3", nil),
            (3, 3, .decimalSI, "3k", nil), (0, 0, .decimalExponent, "0", "00"),
            (1, -9, .decimalSI, "1n", nil), (80, -9, .decimalSI, "80n", nil),
            (1080, -9, .decimalSI, "1080n", nil), (108, -8, .decimalSI, "1080n", nil),
            (10800, -10, .decimalSI, "1080n", nil), (1, -6, .decimalSI, "1u", nil),
            (80, -6, .decimalSI, "80u", nil), (1080, -6, .decimalSI, "1080u", nil),
        ]
        for (mantissa, exponent, format, expect, alternate) in table {
            #expect(decQuantity(mantissa, exponent, format).description == expect, "\(mantissa)e\(exponent)")
            if mantissa != 0 {
                #expect(decQuantity(-mantissa, exponent, format).description == "-" + expect)
            }
            // Parsing the canonical form keeps it as written.
            #expect(try parse(expect).cachedString == expect, "\(expect)")
            if let alternate {
                let q = try parse(alternate)
                #expect(q.cachedString == nil, "\(alternate)")
                #expect(q.description == expect, "\(alternate)")
            }
        }
    }

    @Test("Go's TestQuantityParseEmit, and its negatives")
    func goParseEmit() throws {
        let table = [
            ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"),
            (".001Ki", "1024m"), (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n"),
        ]
        for (input, expect) in table {
            #expect(try parse(input).description == expect, "\(input)")
            #expect(try parse("-" + input).description == "-" + expect, "-\(input)")
        }
    }

    @Test("KUBELET.md §4 canonical forms")
    func kubeletDocCanonicalForms() throws {
        let table = [
            ("1000", "1k"), ("1.5Gi", "1536Mi"), ("0.1m", "100u"), ("1.1Ki", "1126400m"), ("12e2", "1200"),
            ("0", "0"), ("1.5", "1500m"), ("1023Ki", "1023Ki"), ("1024Ki", "1Mi"), ("1536", "1536"),
            ("0.5Ki", "512"), ("1Ki", "1Ki"), ("2048", "2048"), ("100m", "100m"), ("12E", "12E"),
            ("0.000001Mi", "1048576u"),
        ]
        for (input, expect) in table {
            #expect(try parse(input).description == expect, "\(input)")
        }
    }

    @Test("binary values below 1024, or not whole, print as DecimalSI")
    func binaryFallsBackToDecimal() throws {
        #expect(try parse("0.5Ki").format == .binarySI)
        #expect(try parse("0.5Ki").description == "512")
        #expect(try parse("0.0001Ki").format == .decimalSI)  // below 1: DecimalSI at parse
        #expect(try parse("1.0001Ki").description == "1024102400u")
        #expect(try parse("-1.5Ki").description == "-1536")
    }

    @Test("input Go deems canonical is printed as written, like Go's String()")
    func nonCanonicalSpellingsKept() throws {
        // quantity_exact_policy_test.go knownDeviations: the fast path caches these verbatim.
        for input in ["5.", "1.", "+1", "01", "1E3", "1e+21", "1e0", "123e0", "1.G", "+1Ki", "1.500"] {
            #expect(try parse(input).description == input, "\(input)")
        }
        #expect(try parse(".5").description == "500m")
        #expect(try parse("1.5").description == "1500m")
        #expect(try parse("1000m").description == "1")
    }

    @Test("Go's TestNewSet and TestMilliNewSet")
    func goConstructors() throws {
        let whole: [(Int64, Quantity.Format, String)] = [
            (1, .decimalSI, "1"), (1000, .decimalSI, "1k"), (1_234_000, .decimalSI, "1234k"),
            (1024, .binarySI, "1Ki"), (1024 * 1024, .binarySI, "1Mi"),
        ]
        for (value, format, expect) in whole {
            let q = Quantity(value, format: format)
            #expect(q.description == expect)
            #expect(try parse(q.description).value == value)
        }
        let milli: [(Int64, Quantity.Format, String)] = [
            (1, .decimalSI, "1m"), (1000, .decimalSI, "1"), (1_234_000, .decimalSI, "1234"),
            (1024, .binarySI, "1024m"), (1024 * 1024, .binarySI, "1048576m"),
        ]
        for (value, format, expect) in milli {
            let q = Quantity(milli: value, format: format)
            #expect(q.description == expect)
            #expect(try parse(q.description).milliValue == value)
        }
        #expect(Quantity(milli: .min).description == "-9223372036854775808m")
        #expect(Quantity(.min).description == "-9223372036854775808")
        // removeInt64Factors cannot negate Int64.min, so Go prints it without a binary suffix.
        #expect(Quantity(.min, format: .binarySI).description == "-9223372036854775808")
        #expect(decQuantity(.min, 0, .binarySI).description == "-8Ei")
    }
}

@Suite("Quantity values")
struct QuantityValueTests {
    @Test("Value and MilliValue round away from zero")
    func rounding() throws {
        let table: [(String, Int64, Int64)] = [
            ("1500m", 2, 1500), ("-1500m", -2, -1500), ("0.1m", 1, 1), ("-0.1m", -1, -1),
            ("1", 1, 1000), ("1.1Ki", 1127, 1_126_400), ("129M", 129_000_000, 129_000_000_000),
            ("1n", 1, 1), ("0", 0, 0), ("-1n", -1, -1), ("4Mi", 4_194_304, 4_194_304_000),
        ]
        for (input, value, milli) in table {
            let q = try parse(input)
            #expect(q.value == value, "\(input)")
            #expect(q.milliValue == milli, "\(input)")
        }
    }

    @Test("overflow baseline: out-of-range values saturate at the Int64 bounds")
    func overflowBaseline() throws {
        // quantity_overflow_test.go quantityAccessorCases: input, Value, MilliValue,
        // ScaledValue(Kilo), String.
        let max = Int64.max
        let min = Int64.min
        let table: [(String, Int64, Int64, Int64, String)] = [
            ("9223372036854775807", max, max, 9_223_372_036_854_776, "9223372036854775807"),
            ("1E", 1_000_000_000_000_000_000, max, 1_000_000_000_000_000, "1E"),
            ("8Ei", max, max, 9_223_372_036_854_776, "9223372036854775807"),
            ("-8Ei", -max, min, -9_223_372_036_854_776, "-9223372036854775807"),
            ("20Ei", max, max, 9_223_372_036_854_776, "9223372036854775807"),
            ("-20Ei", -max, min, -9_223_372_036_854_776, "-9223372036854775807"),
            ("9223372036854775808", max, max, 9_223_372_036_854_776, "9223372036854775808"),
            ("18446744073709551616", max, max, 18_446_744_073_709_552, "18446744073709551616"),
            ("100E", max, max, 100_000_000_000_000_000, "100E"),
            ("1000E", max, max, 1_000_000_000_000_000_000, "1e21"),
            ("5000E", max, max, 5_000_000_000_000_000_000, "5e21"),
            ("1e100", max, max, max, "10e99"),
            ("-9223372036854775808", min, min, -9_223_372_036_854_776, "-9223372036854775808"),
            ("-9223372036854775807", min + 1, min, -9_223_372_036_854_776, "-9223372036854775807"),
            ("-1e30", min, min, min, "-1e30"),
            ("-100E", min, min, -100_000_000_000_000_000, "-100E"),
            ("-1000E", min, min, -1_000_000_000_000_000_000, "-1e21"),
            ("-9.5Gi", -10_200_547_328, -10_200_547_328_000, -10_200_548, "-9728Mi"),
            ("-9.5000000001Gi", -10_200_547_329, -10_200_547_328_108, -10_200_548, "-10200547328107374183n"),
            ("1e19", max, max, 10_000_000_000_000_000, "10e18"),
        ]
        for (input, value, milli, kilo, string) in table {
            let q = try parse(input)
            #expect(q.value == value, "\(input)")
            #expect(q.milliValue == milli, "\(input)")
            #expect(q.scaledValue(3) == kilo, "\(input)")
            #expect(q.description == string, "\(input)")
        }
    }

    @Test("Go's TestScaledValue: one unit at one scale, read at another")
    func goScaledValue() {
        let table: [(Int64, Int32, Int64)] = [
            (-9, -9, 1), (-9, -6, 1), (-9, -3, 1), (-9, 0, 1),
            (-6, -9, 1000), (-6, -6, 1), (-6, -3, 1), (-6, 0, 1),
            (-3, -9, 1_000_000), (-3, -6, 1000), (-3, -3, 1), (-3, 0, 1),
            (0, -9, 1_000_000_000), (0, -6, 1_000_000), (0, -3, 1000), (0, 0, 1),
            (2, -2, 10000),
        ]
        for (from, to, expected) in table {
            #expect(decQuantity(1, from, .decimalSI).scaledValue(to) == expected, "\(from) -> \(to)")
        }
    }

    @Test("Go's TestQuantityCmp, and equality across notations")
    func comparison() throws {
        let table: [(String, String, Int)] = [
            ("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1), ("10000T", "100Gi", 1),
            ("1k", "1000", 0), ("1Ki", "1024", 0), ("-1", "1n", -1), ("1e100", "1e99", 1),
            ("-1e100", "-1e99", -1), ("0Ki", "0e9", 0),
        ]
        for (x, y, expected) in table {
            #expect(try parse(x).compare(parse(y)) == expected, "\(x) vs \(y)")
            #expect(try parse(y).compare(parse(x)) == -expected, "\(y) vs \(x)")
        }
        #expect(try parse("1k") == parse("1000"))
        #expect(try parse("1k").hashValue == parse("1000").hashValue)
        #expect(try parse("999m") < parse("1"))
        #expect(try parse("-0").isZero && parse("0Ki") == Quantity.zero)
        #expect(try parse("-5m").sign == -1 && parse("5m").sign == 1 && parse("0").sign == 0)
    }
}

@Suite("Quantity round trip")
struct QuantityRoundTripTests {
    /// SplitMix64, so that a failure reproduces.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomQuantityText(_ rng: inout SeededGenerator) -> String {
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in "0123456789".randomElement(using: &rng)! })
        }
        var text = ["", "", "-", "+"].randomElement(using: &rng)!
        text += digits(Int.random(in: 0...22, using: &rng))
        if Bool.random(using: &rng) { text += "." + digits(Int.random(in: 0...12, using: &rng)) }
        let suffixes = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        if Int.random(in: 0..<4, using: &rng) == 0 {
            text += ["e", "E"].randomElement(using: &rng)! + String(Int.random(in: -40...40, using: &rng))
        } else {
            text += suffixes.randomElement(using: &rng)!
        }
        return text
    }

    @Test("the string form parses back to the same value, and settles to a fixed point")
    func roundTrip() throws {
        var rng = SeededGenerator(state: 0x5EED)
        var parsed = 0
        for _ in 0..<20000 {
            let text = Self.randomQuantityText(&rng)
            guard let q = try? Quantity(parsing: text) else { continue }
            parsed += 1
            let again = try Quantity(parsing: q.description)
            #expect(again == q, "\(text) -> \(q.description)")
            #expect(again.description == q.description, "\(text)")
            // The canonical form, ignoring the parser's cache, is a fixed point too.
            let canonical = try Quantity(parsing: q.canonicalString)
            #expect(canonical == q, "\(text) -> \(q.canonicalString)")
            let settled = try Quantity(parsing: canonical.canonicalString)
            #expect(settled.canonicalString == canonical.canonicalString, "\(text)")
        }
        #expect(parsed > 10000)
    }

    /// Found by the fuzzer: a BinarySI value that is not a whole number of Ki is printed as a plain
    /// integer, which reads back as DecimalSI — Go does the same (checked with apimachinery itself).
    @Test("a fractional-Ki value prints as an integer that reads back as DecimalSI, as in Go")
    func fractionalKibibytes() throws {
        let q = try Quantity(parsing: "115312.5Ki")
        #expect(q.canonicalString == "118080000")
        #expect(q.value == 118_080_000)
        let again = try Quantity(parsing: q.canonicalString)
        #expect(again == q)
        #expect(again.canonicalString == "118080k")
    }
}
