/// Where the status endpoint listens: the value of `--listen`, in Go's `host:port` form.
///
/// Accepted: `:9090` (every interface), `0.0.0.0:9090`, `127.0.0.1:0` (a free port, for tests),
/// `[::1]:9090`, `localhost:9090`. The host is resolved only when binding, so a name that does
/// not resolve is reported by ``StatusServer/bind()``, not here.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The host as written without brackets; empty for "every interface".
    public var host: String
    /// 0 asks the kernel for a free port; ``StatusServer/boundPort`` tells which one.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[IPV6]:PORT` or `:PORT`.
    public init(parsing text: String) throws(ListenAddressError) {
        guard !text.isEmpty else {
            throw ListenAddressError(input: text, problem: "it is empty")
        }
        guard !text.contains("://") else {
            throw ListenAddressError(input: text, problem: "it is a URL; give only HOST:PORT")
        }
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ListenAddressError(input: text, problem: "the IPv6 address has no closing `]`")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.first == ":" else {
                throw ListenAddressError(input: text, problem: "a port must follow `]`, as in [::1]:9090")
            }
            portPart = rest.dropFirst()
            guard hostPart.contains(":") else {
                throw ListenAddressError(input: text, problem: "brackets are only for IPv6 addresses")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                let hint = text.allSatisfy(\.isASCIIDigit) ? " (did you mean `:\(text)`?)" : ""
                throw ListenAddressError(input: text, problem: "the port is missing\(hint)")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") {
                throw ListenAddressError(
                    input: text, problem: "an IPv6 address needs brackets, as in [::1]:9090")
            }
        }
        guard !portPart.isEmpty else {
            throw ListenAddressError(input: text, problem: "the port is missing")
        }
        guard portPart.allSatisfy(\.isASCIIDigit), portPart.count <= 5, let port = Int(portPart),
            port <= 65535
        else {
            throw ListenAddressError(input: text, problem: "the port `\(portPart)` is not a number from 0 to 65535")
        }
        if let bad = hostPart.first(where: { !Self.isHostCharacter($0) }) {
            throw ListenAddressError(input: text, problem: "the host contains `\(bad)`")
        }
        self.init(host: String(hostPart), port: port)
    }

    /// The address in the form it was given, e.g. for error messages and logs.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func isHostCharacter(_ c: Character) -> Bool {
        // Hostnames, IPv4 and IPv6 literals (with an optional %zone) use nothing else.
        c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-" || c == ":" || c == "%" || c == "_")
    }
}

/// A `--listen` value that is not `HOST:PORT`; says which part is wrong.
public struct ListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var input: String
    public var problem: String

    public var description: String {
        "invalid listen address `\(input)`: \(problem) — use HOST:PORT, e.g. :9090, 127.0.0.1:9090 or [::1]:9090"
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
