/// A webhook URL taken apart: where to connect, what to ask for, and what is safe to show.
///
/// Only what a webhook needs: `http` and `https`, a host name or an IPv4 / bracketed IPv6 literal, an
/// optional port. User info (`user:pass@`, percent-encoded) becomes HTTP Basic authentication, as curl
/// and Prometheus do, unless an `Authorization` header is given; it is never shown. The fragment is
/// dropped, as HTTP never sends it.
struct WebhookURL: Sendable, Equatable {
    var isTLS: Bool
    /// The host without IPv6 brackets, as given (case kept for SNI; DNS ignores it).
    var host: String
    var port: Int
    /// What the request line asks for: the path (`/` when empty) and the query.
    var requestTarget: String
    /// The `Host` header: the host (bracketed if IPv6) and the port when it is not the scheme's default.
    var hostHeader: String
    /// `scheme://host[:port]/path`, with user info and query left out: safe for logs.
    var display: String
    /// `user:password` from the user info, percent-decoded, for Basic authentication; nil without user info.
    var basicCredentials: [UInt8]?

    init(parsing text: String) throws(WebhookConfigurationError) {
        let lower = text.lowercased()
        let schemeLength: Int
        if lower.hasPrefix("https://") {
            isTLS = true
            schemeLength = 8
        } else if lower.hasPrefix("http://") {
            isTLS = false
            schemeLength = 7
        } else {
            throw WebhookConfigurationError("webhook URL must start with http:// or https://")
        }
        guard !text.contains(where: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }) else {
            throw WebhookConfigurationError("webhook URL contains whitespace; encode it as %20")
        }
        let rest = text.dropFirst(schemeLength)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        basicCredentials = nil
        if let at = authority.lastIndex(of: "@") {
            var credentials = Self.percentDecoded(authority[..<at])
            if !credentials.contains(UInt8(ascii: ":")) { credentials.append(UInt8(ascii: ":")) }  // user, no password
            basicCredentials = credentials
            authority = authority[authority.index(after: at)...]
        }
        guard !authority.isEmpty, !authority.hasPrefix(":") else {
            throw WebhookConfigurationError("webhook URL has no host")
        }

        // host, then an optional :port; an IPv6 literal is bracketed so its colons are not the port's.
        let hostPart: Substring
        let portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw WebhookConfigurationError("webhook URL has an IPv6 host without its closing ']'")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else {
                throw WebhookConfigurationError("webhook URL has text after its IPv6 host: \"\(after)\"")
            }
            portPart = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
            portPart = nil
        }
        guard !hostPart.isEmpty else { throw WebhookConfigurationError("webhook URL has no host") }
        let defaultPort = isTLS ? 443 : 80
        if let portPart, !portPart.isEmpty {
            guard portPart.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let number = Int(portPart), (1...65_535).contains(number)
            else {
                if rest[authorityEnd...].contains("@") {
                    // `user:pa/ss@host`: the authority ended at the `/`, so what looks like a port is part of
                    // a password. Say so without quoting any of it.
                    throw WebhookConfigurationError(
                        "webhook URL: its user info seems to hold a '/', '?' or '#' — percent-encode them (%2F, %3F, %23)")
                }
                throw WebhookConfigurationError("webhook URL port \"\(portPart)\" is not a number from 1 to 65535")
            }
            port = number
        } else {
            port = defaultPort
        }
        host = String(hostPart)
        let bracketed = hostPart.contains(":") ? "[\(hostPart)]" : String(hostPart)
        hostHeader = port == defaultPort ? bracketed : "\(bracketed):\(port)"

        let afterAuthority = rest[authorityEnd...]
        let fragmentStart = afterAuthority.firstIndex(of: "#") ?? afterAuthority.endIndex
        let beforeFragment = afterAuthority[..<fragmentStart]
        let pathEnd = beforeFragment.firstIndex(of: "?") ?? beforeFragment.endIndex
        let path = beforeFragment[..<pathEnd]
        if portPart.map({ !$0.isEmpty }) == true, rest[authorityEnd...].contains("@") {
            // `http://user:12/34@host/…`, `user:12?34@…`: the authority ended inside a password whose first
            // part is a number, so it reads as host `user`, port 12, and the rest of the password would be
            // sent to that host as a path and shown in every log line. Not quoted here.
            throw WebhookConfigurationError(
                "webhook URL has a port and an '@' after it — if user info holds a '/', '?' or '#', encode them (%2F, %3F, %23); if the '@' belongs to the path or query, encode it as %40")
        }
        requestTarget = (path.isEmpty ? "/" : String(path)) + String(beforeFragment[pathEnd...])

        display = text.prefix(schemeLength).lowercased() + String(authority) + String(path)
        if pathEnd < beforeFragment.endIndex { display += "?…" }
    }

    /// `%XX` decoded; other bytes as they are (a `%` not followed by two hex digits too).
    static func percentDecoded(_ text: Substring) -> [UInt8] {
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = bytes[index + 1].hexDigitValue, let low = bytes[index + 2].hexDigitValue {
                result.append(high << 4 | low)
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return result
    }
}
