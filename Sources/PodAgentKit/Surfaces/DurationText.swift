/// Kubernetes-style durations for flags: `250ms`, `30s`, `2m`, `1h`, `1m30s`, `1.5s`, `0`.
/// Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h` — Go's `time.ParseDuration`, without negatives.
public enum DurationText {
    public static func parse(_ text: String) throws(DurationTextError) -> Duration {
        if text == "0" { return .zero }
        var rest = Substring(text)
        var totalNanoseconds: Double = 0
        guard !rest.isEmpty else { throw DurationTextError(text: text) }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { throw DurationTextError(text: text) }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: throw DurationTextError(text: text)
            }
            totalNanoseconds += value * scale
        }
        guard totalNanoseconds < 1e18 else { throw DurationTextError(text: text) }
        return .nanoseconds(Int64(totalNanoseconds.rounded()))
    }
}

public struct DurationTextError: Error, CustomStringConvertible, Sendable {
    public var text: String
    public var description: String {
        "invalid duration \"\(text)\": use a number with a unit, e.g. 250ms, 30s, 2m, 1h, 1m30s"
    }
}
